//! The state machine across a reload, with an injected clock: what keepalived 2.2.7 does
//! with an instance that continues (`restore_vrrp_state`, `vrrp_init_state` with
//! `reload`), one that is deleted (`clear_diff_vrrp`) and one that is added. The
//! expectations are the behaviour and log lines of the real keepalived after SIGHUP, as
//! recorded in a namespace (and checked end to end by `compat-tests/tests/vrrp_reload.rs`,
//! which runs both daemons): a master keeps advertising without a new election, logs
//! "setting VIPs." (and "setting E-VIPs."), announces only when addresses were added; a
//! deleted master logs "sent 0 priority" / "removing VIPs."; an added instance enters
//! BACKUP "(init)" without first removing its addresses.

#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use vrrp_engine::codec::{ChecksumMode, Family, Version};
use vrrp_engine::machine::{Action, Event, Instance, InstanceParams, State, Tracked, TrackedKind};
use vrrp_engine::rx::{Auth, Expected};
use vrrp_engine::track::{TrackerId, TrackerState};

const VIP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 168, 56, 100));
const EVIP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 168, 56, 200));

fn params(priority: u8, excluded: bool, tracked: Vec<Tracked>) -> InstanceParams {
    let mut vips = vec![VIP];
    if excluded {
        vips.push(EVIP);
    }
    InstanceParams {
        name: "VI_1".into(),
        interface: "eth1".into(),
        vrid: 51,
        version: Version::V2,
        base_priority: priority,
        advert_int: Duration::from_secs(1),
        want_master: false,
        nopreempt: false,
        preempt_delay: Duration::ZERO,
        source: IpAddr::V4(Ipv4Addr::new(192, 168, 56, 11)),
        vips,
        excluded_vips: usize::from(excluded),
        garp_repeat: 5,
        garp_delay: Duration::ZERO,
        garp_refresh: None,
        garp_refresh_repeat: 1,
        garp_lower_prio_repeat: 0,
        skip_check_adv_addr: false,
        log_detail: true,
        expected: Expected {
            name: "VI_1".into(),
            family: Family::V4,
            version: Version::V2,
            auth: Auth::None,
            interval_centis: 100,
            vips: vec![VIP],
            unicast_peers: vec![],
            check_unicast_src: false,
            checksum_mode: ChecksumMode::Standard,
        },
        tracked,
    }
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
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

/// An instance alone on its LAN: master 3 s + skew after start.
fn master(p: InstanceParams) -> Instance {
    let mut m = Instance::new(p);
    m.handle(Event::Start, Duration::ZERO);
    let at = m.next_deadline().unwrap();
    m.handle(Event::Timer, at);
    assert_eq!(m.state(), State::Master);
    m
}

#[test]
fn a_continuing_master_stays_master_and_advertises_at_once() {
    let old = master(params(150, false, vec![]));
    let now = secs(10.3);
    let mut new = Instance::new(params(150, true, vec![]));
    let actions = new.resume(&old, true, now);
    assert_eq!(new.state(), State::Master);
    assert!(new.addresses_set());
    // No transition, no notification: the reload is invisible to the peers.
    assert!(!actions.iter().any(|a| matches!(a, Action::Notify(..))));
    assert!(!logs(&actions).iter().any(|l| l.contains("Entering")));
    // keepalived: "(VI_1) setting VIPs." then "(VI_1) setting E-VIPs.", and the addresses.
    assert_eq!(
        &logs(&actions)[..2],
        &["(VI_1) setting VIPs.", "(VI_1) setting E-VIPs."]
    );
    assert!(actions.contains(&Action::AddAddresses));
    // Addresses were added: a GARP burst for each (5 rounds).
    let garps = actions
        .iter()
        .filter(|a| matches!(a, Action::Announce(_)))
        .count();
    assert_eq!(garps, 2 * 5);
    // `reload_master`: sands = now, so the next advert goes at once...
    assert_eq!(new.next_deadline(), Some(now));
    let sent = new.handle(Event::Timer, now);
    assert!(sent.contains(&Action::Send { priority: 150 }));
    // ...and then every advert_int.
    assert_eq!(new.next_deadline(), Some(now + secs(1.0)));
}

#[test]
fn a_continuing_master_without_new_addresses_sends_no_garp() {
    let old = master(params(150, false, vec![]));
    let mut new = Instance::new(params(150, false, vec![]));
    let actions = new.resume(&old, false, secs(5.0));
    assert_eq!(logs(&actions), vec!["(VI_1) setting VIPs."]);
    assert!(!actions.iter().any(|a| matches!(a, Action::Announce(_))));
}

#[test]
fn a_continuing_backup_restarts_its_master_down_timer() {
    let mut old = Instance::new(params(100, false, vec![]));
    old.handle(Event::Start, Duration::ZERO);
    let now = secs(1.5);
    let mut new = Instance::new(params(100, false, vec![]));
    let actions = new.resume(&old, false, now);
    assert_eq!(new.state(), State::Backup);
    assert!(actions.is_empty(), "{actions:?}");
    // 3 x 1 s + (256 - 100) / 256 s.
    let expected = now + secs(3.0) + Duration::from_micros(156 * 1_000_000 / 256);
    assert_eq!(new.next_deadline(), Some(expected));
}

#[test]
fn carried_tracker_states_set_the_priority_and_can_fault_the_instance() {
    let chk = Tracked {
        id: TrackerId(0),
        kind: TrackedKind::Script,
        name: "chk".into(),
        weight: 2,
        reverse: false,
    };
    let old = master(params(150, false, vec![]));
    let mut new = Instance::new(params(150, false, vec![chk.clone()]));
    let first = new.handle(Event::Tracker(TrackerId(0), TrackerState::Ok), secs(4.0));
    // keepalived logs it on every reload (the new instance starts from its base).
    assert_eq!(
        logs(&first),
        vec!["(VI_1) Changing effective priority from 150 to 152"]
    );
    new.resume(&old, false, secs(4.0));
    assert_eq!(new.effective_priority(), 152);
    assert_eq!(new.state(), State::Master);

    // A weight-0 tracker failing: FAULT, and the addresses go without a priority-0 advert
    // (`vrrp_restore_interface(vrrp, false, false)`).
    let fatal = Tracked { weight: 0, ..chk };
    let mut new = Instance::new(params(150, false, vec![fatal]));
    new.handle(
        Event::Tracker(TrackerId(0), TrackerState::Failed),
        secs(4.0),
    );
    let actions = new.resume(&old, false, secs(4.0));
    assert_eq!(new.state(), State::Fault);
    assert!(!new.addresses_set());
    assert_eq!(
        logs(&actions),
        vec!["(VI_1) entering FAULT state", "(VI_1) removing VIPs."]
    );
    assert!(actions.contains(&Action::RemoveAddresses));
    assert!(!actions.iter().any(|a| matches!(a, Action::Send { .. })));
    assert!(actions.contains(&Action::Notify(State::Fault, 150)));
}

#[test]
fn a_deleted_master_sends_priority_zero_and_releases_its_addresses() {
    let mut old = master(params(150, false, vec![]));
    let actions = old.delete();
    assert_eq!(
        actions,
        vec![
            Action::Send { priority: 0 },
            Action::Log("(VI_1) sent 0 priority".into()),
            Action::Log("(VI_1) removing VIPs.".into()),
            Action::RemoveAddresses,
            // keepalived's default without `notify_deleted`: FAULT.
            Action::Notify(State::Fault, 150),
        ]
    );
    assert_eq!(old.next_deadline(), None);
}

#[test]
fn an_added_instance_starts_without_removing_addresses_first() {
    let mut new = Instance::new(params(100, false, vec![]));
    let actions = new.start_added_on_reload(secs(2.0));
    assert_eq!(logs(&actions), vec!["(VI_1) Entering BACKUP STATE (init)"]);
    assert!(!actions.contains(&Action::RemoveAddresses));
    // At process start the same instance removes stale addresses first.
    let mut fresh = Instance::new(params(100, false, vec![]));
    let actions = fresh.handle(Event::Start, Duration::ZERO);
    assert_eq!(logs(&actions)[0], "(VI_1) removing VIPs.");
}
