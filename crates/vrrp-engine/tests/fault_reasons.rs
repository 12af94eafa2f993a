//! Which tracker holds an instance in FAULT, as keepalived 2.2.7 says it at start-up and
//! on reload, and weight-0 scripts that have not reported yet (`num_script_init`), on the
//! sans-IO [`Node`] with an injected clock.
//!
//! Every expected line was recorded from the real keepalived 2.2.7 (Debian package) in a
//! network namespace `hk5-ns` with veth pairs `hk5-a`/`hk5-b` (10.77.0.1/24, up, index
//! 3), `hk5-o`/`hk5-p` (10.77.1.1/24, down, index 5) and `hk5-d`/`hk5-e` (down, index 7):
//!
//! ```text
//! ip netns exec hk5-ns keepalived -n -l -D --vrrp -f k.conf -p k.pid -r v.pid
//! ```
//!
//! `k.conf` (run 1): `VI_IF` (hk5-a, `track_interface { hk5-d }`), `VI_OWN` (on hk5-o),
//! `VI_SCR` (`chk_flag weight 0`, a script that fails while a flag file exists, with
//! `init_fail`), `VI_FILE` (`track_file { tf weight 0 }`, the file holding 5), `VI_PROC`
//! (`track_process { tp weight 0 }`, no such process), `VI_INIT_OK` / `VI_INIT_FAIL`
//! (`weight 0` scripts that sleep 3 s and exit 0 / 1), VRIDs 11 to 17, priority 100,
//! each with `notify` writing its arguments to a file. After 7 s: hk5-d and hk5-o up,
//! the flag removed, 0 written to the file; 6 s later all back. Run 2 (`k2.conf`): the
//! same with `tf weight -100` holding 3, then SIGHUP with everything still down.
#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use vrrp_engine::codec::{ChecksumMode, Family, Version};
use vrrp_engine::machine::{Action, Event, Instance, InstanceParams, State, Tracked, TrackedKind};
use vrrp_engine::rx::{Auth, Expected};
use vrrp_engine::sync_group::{fault_reason_lines, Node, NodeAction};
use vrrp_engine::track::{TrackerId, TrackerState};

// Tracker ids as `TrackerTable::from_config` numbers them: scripts, processes, files,
// then interfaces.
const CHK_FLAG: TrackerId = TrackerId(0);
const CHK_SLOW_OK: TrackerId = TrackerId(1);
const CHK_SLOW_FAIL: TrackerId = TrackerId(2);
const TP: TrackerId = TrackerId(3);
const TF: TrackerId = TrackerId(4);
const HK5_A: TrackerId = TrackerId(5);
const HK5_D: TrackerId = TrackerId(6);
const HK5_O: TrackerId = TrackerId(7);

fn tracked(id: TrackerId, kind: TrackedKind, name: &str, weight: i16) -> Tracked {
    Tracked {
        id,
        kind,
        name: name.into(),
        weight,
        reverse: false,
    }
}

fn iface(id: TrackerId, name: &str, index: u32) -> Tracked {
    tracked(id, TrackedKind::Interface { index }, name, 0)
}

fn instance(name: &str, vrid: u8, interface: &str, extra: Vec<Tracked>) -> Instance {
    let own = match interface {
        "hk5-o" => iface(HK5_O, "hk5-o", 5),
        _ => iface(HK5_A, "hk5-a", 3),
    };
    let mut tracked = vec![own];
    tracked.extend(extra);
    let vip = IpAddr::V4(Ipv4Addr::new(10, 77, 0, vrid));
    Instance::new(InstanceParams {
        name: name.into(),
        interface: interface.into(),
        vrid,
        version: Version::V2,
        base_priority: 100,
        advert_int: Duration::from_secs(1),
        want_master: false,
        nopreempt: false,
        preempt_delay: Duration::ZERO,
        source: IpAddr::V4(Ipv4Addr::new(10, 77, 0, 1)),
        vips: vec![vip],
        excluded_vips: 0,
        garp_repeat: 5,
        garp_delay: Duration::ZERO,
        garp_refresh: None,
        garp_refresh_repeat: 1,
        garp_lower_prio_repeat: 0,
        skip_check_adv_addr: false,
        // `-D`.
        log_detail: true,
        expected: Expected {
            name: name.into(),
            family: Family::V4,
            version: Version::V2,
            auth: Auth::None,
            interval_centis: 100,
            vips: vec![vip],
            unicast_peers: vec![],
            check_unicast_src: false,
            checksum_mode: ChecksumMode::Standard,
        },
        tracked,
    })
}

/// Run 1's instances, in its configuration order.
fn run1() -> Node {
    let script = |id, name| tracked(id, TrackedKind::Script, name, 0);
    Node::new(
        vec![
            instance("VI_IF", 11, "hk5-a", vec![iface(HK5_D, "hk5-d", 7)]),
            instance("VI_OWN", 12, "hk5-o", vec![]),
            instance("VI_SCR", 13, "hk5-a", vec![script(CHK_FLAG, "chk_flag")]),
            instance(
                "VI_FILE",
                14,
                "hk5-a",
                vec![tracked(TF, TrackedKind::File, "tf", 0)],
            ),
            instance(
                "VI_PROC",
                15,
                "hk5-a",
                vec![tracked(TP, TrackedKind::Process, "tp", 0)],
            ),
            instance(
                "VI_INIT_OK",
                16,
                "hk5-a",
                vec![script(CHK_SLOW_OK, "chk_slow_ok")],
            ),
            instance(
                "VI_INIT_FAIL",
                17,
                "hk5-a",
                vec![script(CHK_SLOW_FAIL, "chk_slow_fail")],
            ),
        ],
        vec![],
    )
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn lines(actions: &[NodeAction]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            NodeAction::Instance(_, Action::Log(l)) | NodeAction::Log(l) => Some(l.clone()),
            _ => None,
        })
        .collect()
}

fn notifies(node: &Node, actions: &[NodeAction]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            NodeAction::Instance(i, Action::Notify(s, p)) => Some(format!(
                "INSTANCE {} {} {p}",
                node.instances()[*i].params().name,
                s.word()
            )),
            _ => None,
        })
        .collect()
}

/// Feeds a tracker to every instance, as the runtime does.
fn tracker(node: &mut Node, id: TrackerId, state: TrackerState, now: Duration) -> Vec<NodeAction> {
    let mut out = Vec::new();
    for i in 0..node.instances().len() {
        out.extend(node.handle(i, Event::Tracker(id, state), now));
    }
    out
}

/// Run 1's start: what keepalived reads before starting (links, the file, the process).
fn started_run1() -> (Node, Vec<NodeAction>) {
    let mut node = run1();
    let t0 = Duration::ZERO;
    tracker(&mut node, HK5_A, TrackerState::Ok, t0);
    tracker(&mut node, HK5_O, TrackerState::Failed, t0);
    tracker(&mut node, HK5_D, TrackerState::Failed, t0);
    tracker(&mut node, TP, TrackerState::Failed, t0);
    tracker(&mut node, TF, TrackerState::Value(5), t0);
    let start = node.start(t0);
    (node, start)
}

#[test]
fn start_names_each_tracker_then_enters_fault() {
    let (node, start) = started_run1();
    // Recorded (run 1), in this order: the interfaces by index (hk5-o is 5, hk5-d 7),
    // the file, the process, then each instance's "entering FAULT state", then every
    // instance's stale addresses. `init_fail` on chk_flag gives no "due to script" line
    // (2.2.7 sets a tracked script back to its initial state); the instances whose
    // weight-0 scripts have not run yet say nothing at all.
    assert_eq!(
        lines(&start),
        [
            "(VI_OWN): entering FAULT state (interface hk5-o down)",
            "(VI_IF): entering FAULT state (interface hk5-d down)",
            "(VI_FILE): entering FAULT state (tracked file tf has status -254)",
            "(VI_PROC) entering FAULT state (tracked process tp quorum not achieved)",
            "(VI_IF) entering FAULT state",
            "(VI_OWN) entering FAULT state",
            "(VI_FILE) entering FAULT state",
            "(VI_PROC) entering FAULT state",
            "(VI_IF) removing VIPs.",
            "(VI_OWN) removing VIPs.",
            "(VI_SCR) removing VIPs.",
            "(VI_FILE) removing VIPs.",
            "(VI_PROC) removing VIPs.",
            "(VI_INIT_OK) removing VIPs.",
            "(VI_INIT_FAIL) removing VIPs.",
        ]
    );
    // Recorded (run 2's notify file): FAULT for the instances a tracker holds down,
    // nothing for those waiting for their scripts.
    assert_eq!(
        notifies(&node, &start),
        [
            "INSTANCE VI_IF FAULT 100",
            "INSTANCE VI_OWN FAULT 100",
            "INSTANCE VI_FILE FAULT 100",
            "INSTANCE VI_PROC FAULT 100",
        ]
    );
    for i in 0..node.instances().len() {
        assert_eq!(node.instances()[i].state(), State::Fault, "{i}");
        assert_eq!(node.instances()[i].next_deadline(), None, "{i}");
    }
}

#[test]
fn weight_zero_scripts_that_have_not_run_hold_the_instance_silently() {
    let (mut node, _) = started_run1();
    let now = secs(3.0);
    // Recorded: "VRRP_Script(chk_slow_ok) succeeded" then "(VI_INIT_OK) Entering BACKUP
    // STATE" (no "(init)"), and it becomes master 3 s + skew later.
    let up = tracker(&mut node, CHK_SLOW_OK, TrackerState::Ok, now);
    assert_eq!(lines(&up), ["(VI_INIT_OK) Entering BACKUP STATE"]);
    assert_eq!(notifies(&node, &up), ["INSTANCE VI_INIT_OK BACKUP 100"]);
    // Recorded: "VRRP_Script(chk_slow_fail) failed (exited with status 1)" and no line
    // of VI_INIT_FAIL, but its notify runs ("INSTANCE VI_INIT_FAIL FAULT 100", run 2).
    let down = tracker(&mut node, CHK_SLOW_FAIL, TrackerState::Failed, now);
    assert_eq!(lines(&down), Vec::<String>::new());
    assert_eq!(notifies(&node, &down), ["INSTANCE VI_INIT_FAIL FAULT 100"]);
    assert_eq!(node.instances()[6].state(), State::Fault);
    // The `init_fail` script failing first (run 1: it had not run either): silent too.
    let first = tracker(&mut node, CHK_FLAG, TrackerState::Failed, now);
    assert_eq!(lines(&first), Vec::<String>::new());
    assert_eq!(notifies(&node, &first), ["INSTANCE VI_SCR FAULT 100"]);

    let mut t = now;
    while t < secs(7.5) {
        t += secs(0.1);
        for i in 0..node.instances().len() {
            if node.instances()[i].next_deadline().is_some_and(|d| d <= t) {
                node.handle(i, Event::Timer, t);
            }
        }
    }
    assert_eq!(node.instances()[5].state(), State::Master);
    assert_eq!(node.instances()[6].state(), State::Fault);
}

#[test]
fn trackers_coming_up_and_going_down_at_run_time() {
    let (mut node, _) = started_run1();
    let now = secs(7.0);
    // Recorded (run 1, -D), one event at a time.
    let l = lines(&tracker(&mut node, HK5_D, TrackerState::Ok, now));
    assert_eq!(l, ["(VI_IF) Entering BACKUP STATE"]);
    let l = lines(&tracker(&mut node, TF, TrackerState::Value(0), now));
    assert_eq!(
        l,
        [
            "(VI_FILE): tracked file tf leaving FAULT state",
            "(VI_FILE) Entering BACKUP STATE"
        ]
    );
    let l = lines(&tracker(&mut node, HK5_O, TrackerState::Ok, now));
    assert_eq!(l, ["(VI_OWN) Entering BACKUP STATE"]);
    let l = lines(&tracker(&mut node, CHK_FLAG, TrackerState::Ok, now));
    assert_eq!(l, ["(VI_SCR) Entering BACKUP STATE"]);

    let mut t = now;
    while t < secs(12.0) {
        t += secs(0.1);
        for i in 0..node.instances().len() {
            if node.instances()[i].next_deadline().is_some_and(|d| d <= t) {
                node.handle(i, Event::Timer, t);
            }
        }
    }
    for i in [0, 1, 2, 3] {
        assert_eq!(node.instances()[i].state(), State::Master, "{i}");
    }
    // Going down at run time: no tracker named, except the file's detail line.
    let l = lines(&tracker(&mut node, HK5_D, TrackerState::Failed, t));
    assert_eq!(
        l,
        [
            "(VI_IF) Entering FAULT STATE",
            "(VI_IF) sent 0 priority",
            "(VI_IF) removing VIPs."
        ]
    );
    let l = lines(&tracker(&mut node, TF, TrackerState::Value(5), t));
    assert_eq!(
        l,
        [
            "(VI_FILE): tracked file tf now FAULT state",
            "(VI_FILE) Entering FAULT STATE",
            "(VI_FILE) sent 0 priority",
            "(VI_FILE) removing VIPs."
        ]
    );
    let l = lines(&tracker(&mut node, HK5_O, TrackerState::Failed, t));
    assert_eq!(
        l,
        [
            "(VI_OWN) Entering FAULT STATE",
            "(VI_OWN) sent 0 priority",
            "(VI_OWN) removing VIPs."
        ]
    );
    let l = lines(&tracker(&mut node, CHK_FLAG, TrackerState::Failed, t));
    assert_eq!(
        l,
        [
            "(VI_SCR) Entering FAULT STATE",
            "(VI_SCR) sent 0 priority",
            "(VI_SCR) removing VIPs."
        ]
    );
}

#[test]
fn weighted_file_status_is_printed_unclamped() {
    // Run 2: `tf weight -100` holding 3. Recorded at start:
    let mut file = instance(
        "VI_FILE",
        14,
        "hk5-a",
        vec![tracked(TF, TrackedKind::File, "tf", -100)],
    );
    file.handle(Event::Tracker(TF, TrackerState::Value(3)), Duration::ZERO);
    let (global, _) = fault_reason_lines(&[file]);
    assert_eq!(
        global,
        ["(VI_FILE): entering FAULT state (tracked file tf has status -300)"]
    );
}

#[test]
fn reload_names_every_tracker_again_scripts_last() {
    // Run 2's SIGHUP, everything still down: keepalived's `initialise_tracking_priorities()`
    // logs every reason again (the instances were in FAULT already, so no "entering
    // FAULT state" follows). Recorded, in this order:
    let expected = [
        "(VI_IF): entering FAULT state (interface hk5-d down)",
        "(VI_FILE): entering FAULT state (tracked file tf has status -300)",
        "(VI_SCR): entering FAULT state due to script chk_flag",
        "(VI_INIT_FAIL): entering FAULT state due to script chk_slow_fail",
    ];
    let now = secs(7.0);
    let script = |id, name| tracked(id, TrackedKind::Script, name, 0);
    let mut machines = vec![
        instance("VI_IF", 11, "hk5-a", vec![iface(HK5_D, "hk5-d", 7)]),
        instance("VI_SCR", 13, "hk5-a", vec![script(CHK_FLAG, "chk_flag")]),
        instance(
            "VI_FILE",
            14,
            "hk5-a",
            vec![tracked(TF, TrackedKind::File, "tf", -100)],
        ),
        instance(
            "VI_INIT_FAIL",
            17,
            "hk5-a",
            vec![script(CHK_SLOW_FAIL, "chk_slow_fail")],
        ),
    ];
    // The carried states, as `Runtime::reload` feeds them.
    for m in &mut machines {
        for (id, state) in [
            (CHK_FLAG, TrackerState::Failed),
            (CHK_SLOW_FAIL, TrackerState::Failed),
            (TF, TrackerState::Value(3)),
            (HK5_A, TrackerState::Ok),
            (HK5_D, TrackerState::Failed),
        ] {
            m.handle(Event::Tracker(id, state), now);
        }
    }
    let (global, per_instance) = fault_reason_lines(&machines);
    let all: Vec<String> = global
        .into_iter()
        .chain(per_instance.into_iter().flatten())
        .collect();
    assert_eq!(all, expected);
}
