//! `vrrp_sync_group` on a simulated LAN: two routers, each running one sync group `G1` of
//! two instances, `VI_A` (VRID 51) on `hasg-a` and `VI_B` (VRID 52) on `hasg-b`, the two
//! interfaces on two separate segments; a simulated clock, adverts delivered as the real
//! IPv4 packets the receive checks read.
//!
//! Every expected line, order and notification comes from real keepalived 2.2.7 runs of
//! exactly this setup: two `keepalived -n -l -D --vrrp` in two network namespaces, their
//! interfaces on two bridges (`tests/sync_group_reference.rs` is that lab, and re-checks
//! the same [`common::sync_lab`] expectations against the real daemon when it can run).
//! Timings are keepalived's formulas (`VRRP_MS_DOWN_TIMER` = 3 x interval +
//! (256 - prio) / 256 s; a priority-0 advert leaves the skew), which the runs agree with.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use common::sync_lab::{self, Seg};
use vrrp_engine::codec::{self, Advert, ChecksumMode, Family, Version, WireAuth};
use vrrp_engine::machine::{Action, Event, Instance, InstanceParams, State, Tracked, TrackedKind};
use vrrp_engine::rx::{Auth, Expected, Received};
use vrrp_engine::sync_group::{GroupParams, Node, NodeAction};
use vrrp_engine::track::{TrackerId, TrackerState};

const GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);

fn params(router: u8, seg: Seg, priority: u8) -> InstanceParams {
    let vip = IpAddr::V4(seg.vip());
    InstanceParams {
        name: seg.instance().into(),
        interface: seg.interface().into(),
        vrid: seg.vrid(),
        version: Version::V2,
        base_priority: priority,
        advert_int: Duration::from_secs(1),
        want_master: false,
        nopreempt: false,
        preempt_delay: Duration::ZERO,
        source: IpAddr::V4(seg.addr(router)),
        vips: vec![vip],
        excluded_vips: 0,
        garp_repeat: 5,
        // The lab sets `vrrp_garp_master_delay 0`.
        garp_delay: Duration::ZERO,
        garp_refresh: None,
        garp_refresh_repeat: 1,
        garp_lower_prio_repeat: 0,
        skip_check_adv_addr: false,
        log_detail: true,
        expected: Expected {
            name: seg.instance().into(),
            family: Family::V4,
            version: Version::V2,
            auth: Auth::None,
            interval_centis: 100,
            vips: vec![vip],
            unicast_peers: vec![],
            check_unicast_src: false,
            checksum_mode: ChecksumMode::Standard,
        },
        // The instance's own interface (keepalived tracks it unless
        // `dont_track_primary`); tracker ids: 0 = hasg-a, 1 = hasg-b.
        tracked: vec![Tracked {
            id: TrackerId(seg.index()),
            kind: TrackedKind::Interface {
                index: seg.index() as u32 + 2,
            },
            name: seg.interface().into(),
            weight: 0,
            reverse: false,
        }],
    }
}

fn node(router: u8, prio_a: u8, prio_b: u8) -> Node {
    Node::new(
        vec![
            Instance::new(params(router, Seg::A, prio_a)),
            Instance::new(params(router, Seg::B, prio_b)),
        ],
        vec![GroupParams {
            name: "G1".into(),
            members: vec![0, 1],
        }],
    )
}

struct Router {
    number: u8,
    node: Node,
    plugged: [bool; 2],
    alive: bool,
    started: bool,
}

#[derive(Debug, Clone, PartialEq)]
struct Logged {
    at: Duration,
    router: usize,
    what: NodeAction,
}

struct Lan {
    now: Duration,
    routers: Vec<Router>,
    /// (delivery time, sender, segment, bytes).
    in_flight: Vec<(Duration, usize, Seg, Vec<u8>)>,
    log: Vec<Logged>,
}

impl Lan {
    /// Router 1 is `hasg-r1` (10.99.x.1), router 2 `hasg-r2` (10.99.x.2).
    fn new(prios: &[(u8, u8)]) -> Lan {
        Lan {
            now: Duration::ZERO,
            routers: prios
                .iter()
                .enumerate()
                .map(|(i, &(a, b))| {
                    let number = u8::try_from(i).unwrap() + 1;
                    Router {
                        number,
                        node: node(number, a, b),
                        plugged: [true, true],
                        alive: true,
                        started: false,
                    }
                })
                .collect(),
            in_flight: Vec::new(),
            log: Vec::new(),
        }
    }

    /// Starts router `r` as the runtime does: link states first, then the node.
    fn start(&mut self, r: usize) {
        for seg in [Seg::A, Seg::B] {
            if !self.routers[r].plugged[seg.index()] {
                self.tracker(r, seg, TrackerState::Failed);
            }
        }
        self.routers[r].started = true;
        let actions = self.routers[r].node.start(self.now);
        self.apply(r, actions);
    }

    fn stop(&mut self, r: usize) {
        let actions = self.routers[r].node.stop(self.now);
        self.apply(r, actions);
        self.routers[r].alive = false;
    }

    /// The interface of `seg` on router `r` goes down: nothing in or out, and the runtime
    /// tells every instance (`Netlink reports hasg-a down`).
    fn unplug(&mut self, r: usize, seg: Seg) {
        self.routers[r].plugged[seg.index()] = false;
        if self.routers[r].started {
            self.tracker(r, seg, TrackerState::Failed);
        }
    }

    fn plug(&mut self, r: usize, seg: Seg) {
        self.routers[r].plugged[seg.index()] = true;
        if self.routers[r].started {
            self.tracker(r, seg, TrackerState::Ok);
        }
    }

    fn tracker(&mut self, r: usize, seg: Seg, state: TrackerState) {
        for i in 0..2 {
            let actions = self.routers[r].node.handle(
                i,
                Event::Tracker(TrackerId(seg.index()), state),
                self.now,
            );
            self.apply(r, actions);
        }
    }

    fn apply(&mut self, r: usize, actions: Vec<NodeAction>) {
        for a in actions {
            if let NodeAction::Instance(i, Action::Send { priority }) = &a {
                let seg = Seg::of(*i);
                if self.routers[r].plugged[seg.index()] {
                    let src = seg.addr(self.routers[r].number);
                    let advert = Advert {
                        version: Version::V2,
                        kind: 1,
                        vrid: seg.vrid(),
                        priority: *priority,
                        interval: 1,
                        auth: WireAuth::None,
                        addresses: vec![IpAddr::V4(seg.vip())],
                    };
                    let payload = codec::encode(
                        &advert,
                        IpAddr::V4(src),
                        IpAddr::V4(GROUP),
                        ChecksumMode::Standard,
                    )
                    .unwrap();
                    let bytes = vrrp_engine::ipv4::build(
                        &vrrp_engine::ipv4::Ipv4Fields::new(src, GROUP, 1),
                        &payload,
                        None,
                    )
                    .unwrap();
                    self.in_flight
                        .push((self.now + Duration::from_micros(100), r, seg, bytes));
                }
            }
            self.log.push(Logged {
                at: self.now,
                router: r,
                what: a,
            });
        }
    }

    fn run_until(&mut self, until: Duration) {
        loop {
            let next_packet = self.in_flight.iter().map(|p| p.0).min();
            let next_timer = self
                .routers
                .iter()
                .enumerate()
                .filter(|(_, r)| r.alive && r.started)
                .filter_map(|(i, r)| r.node.next_deadline().map(|d| (d, i)))
                .min();
            let next = [next_packet, next_timer.map(|t| t.0)]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(n) if n <= until => self.now = n,
                _ => {
                    self.now = until;
                    return;
                }
            }
            if next_packet == Some(self.now) {
                let idx = self.in_flight.iter().position(|p| p.0 == self.now).unwrap();
                let (_, from, seg, bytes) = self.in_flight.remove(idx);
                for r in 0..self.routers.len() {
                    let rt = &self.routers[r];
                    if r == from || !rt.alive || !rt.started || !rt.plugged[seg.index()] {
                        continue;
                    }
                    let rx = Received {
                        bytes: &bytes,
                        v6_addrs: None,
                        v6_hop_limit: None,
                        v6_multicast: false,
                    };
                    let actions =
                        self.routers[r]
                            .node
                            .handle(seg.index(), Event::Packet(&rx), self.now);
                    self.apply(r, actions);
                }
            } else if let Some((_, r)) = next_timer {
                // As the runtime: every instance whose deadline has come, in order.
                for i in 0..2 {
                    let due = self.routers[r].node.instances()[i]
                        .next_deadline()
                        .is_some_and(|d| d <= self.now);
                    if due {
                        let actions = self.routers[r].node.handle(i, Event::Timer, self.now);
                        self.apply(r, actions);
                    }
                }
            }
        }
    }

    fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until);
    }

    /// Router `r`'s log lines (instances' and group's) from `after` on.
    fn lines(&self, r: usize, after: Duration) -> Vec<String> {
        self.log
            .iter()
            .filter(|l| l.router == r && l.at >= after)
            .filter_map(|l| match &l.what {
                NodeAction::Instance(_, Action::Log(s)) | NodeAction::Log(s) => Some(s.clone()),
                _ => None,
            })
            .collect()
    }

    /// Router `r`'s notifications from `after` on, as the generic `notify` script gets
    /// them (`INSTANCE VI_A MASTER 200`, `GROUP G1 MASTER 0`).
    fn notifies(&self, r: usize, after: Duration) -> Vec<String> {
        self.log
            .iter()
            .filter(|l| l.router == r && l.at >= after)
            .filter_map(|l| match &l.what {
                NodeAction::Instance(i, Action::Notify(s, p)) => Some(format!(
                    "INSTANCE {} {} {p}",
                    Seg::of(*i).instance(),
                    s.word()
                )),
                NodeAction::GroupNotify(_, s) => Some(format!("GROUP G1 {} 0", s.word())),
                _ => None,
            })
            .collect()
    }

    /// When router `r` last added the addresses of `seg`, after `after`.
    fn took(&self, r: usize, seg: Seg, after: Duration) -> Option<Duration> {
        self.log
            .iter()
            .find(|l| {
                l.router == r
                    && l.at >= after
                    && l.what == NodeAction::Instance(seg.index(), Action::AddAddresses)
            })
            .map(|l| l.at)
    }

    fn states(&self, r: usize) -> (State, State, State) {
        let n = &self.routers[r].node;
        (
            n.instances()[0].state(),
            n.instances()[1].state(),
            n.group_state(0).unwrap(),
        )
    }
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// keepalived's v2 master down interval for `prio`.
fn down_v2(prio: u64) -> Duration {
    Duration::from_micros(3_000_000 + (256 - prio) * 1_000_000 / 256)
}

/// keepalived's v2 skew for `prio`: what is left after a priority-0 advert.
fn skew_v2(prio: u64) -> Duration {
    Duration::from_micros((256 - prio) * 1_000_000 / 256)
}

fn assert_close(got: Duration, want: Duration, what: &str) {
    assert!(
        got.abs_diff(want) <= Duration::from_millis(2),
        "{what}: got {got:?}, want {want:?}"
    );
}

/// Without the detail lines that only repeat (GARPs) and with `hasg-*` names as the lab's.
fn assert_lines(got: &[String], want: &[&str], what: &str) {
    let got: Vec<&str> = got.iter().map(String::as_str).collect();
    assert_eq!(got, want, "{what}");
}

/// The group goes master when its last member's down timer expires: the first member
/// whose timer expires is held in BACKUP (it wants MASTER), the second becomes master and
/// pulls the first. Startup notifications: the group's BACKUP first.
#[test]
fn group_starts_backup_then_moves_to_master_together() {
    let mut lan = Lan::new(&[(200, 200)]);
    lan.start(0);
    lan.run_for(secs(5.0));
    assert_eq!(lan.states(0), (State::Master, State::Master, State::Master));
    assert_lines(
        &lan.lines(0, Duration::ZERO),
        sync_lab::START_ALONE,
        "start",
    );
    assert_eq!(
        lan.notifies(0, Duration::ZERO),
        sync_lab::START_ALONE_NOTIFY
    );
    for seg in [Seg::A, Seg::B] {
        assert_close(
            lan.took(0, seg, Duration::ZERO).unwrap(),
            down_v2(200),
            "both members master at the down interval",
        );
    }
}

/// One member's interface fails on the master: the whole group goes to FAULT, and the
/// other router takes both VIP sets: its `VI_B` (which received `VI_B`'s priority-0
/// advert) is held until `VI_A`'s down timer, counted from the last `VI_A` advert,
/// expires. The interface back: the group returns to BACKUP, then preempts, together.
#[test]
fn a_member_interface_failure_moves_both_vip_sets() {
    let mut lan = Lan::new(&[(200, 200), (100, 100)]);
    lan.start(0);
    lan.run_for(secs(6.0));
    lan.start(1);
    lan.run_for(secs(6.0));
    assert_eq!(lan.states(0), (State::Master, State::Master, State::Master));
    assert_eq!(lan.states(1), (State::Backup, State::Backup, State::Backup));
    assert_lines(
        &lan.lines(1, Duration::ZERO),
        sync_lab::BACKUP_START,
        "r2 start",
    );

    // r1's VI_A sends at 3.21875 s + n: the last one before 12.5 s is at 12.21875 s.
    lan.run_until(secs(12.5));
    let down = lan.now;
    let last_a_advert = secs(12.21875) + Duration::from_micros(100);
    lan.unplug(0, Seg::A);
    assert_lines(&lan.lines(0, down), sync_lab::MASTER_FAULT, "r1 fault");
    assert_eq!(lan.notifies(0, down), sync_lab::MASTER_FAULT_NOTIFY);
    assert_eq!(lan.states(0), (State::Fault, State::Fault, State::Fault));
    assert!(lan.took(0, Seg::A, down).is_none());

    lan.run_for(secs(6.0));
    assert_lines(&lan.lines(1, down), sync_lab::TAKEOVER_AFTER_FAULT, "r2");
    assert_eq!(lan.states(1), (State::Master, State::Master, State::Master));
    // VI_B's down timer after the priority-0 advert: the skew; it is held then.
    let held = lan
        .log
        .iter()
        .find(|l| {
            l.router == 1
                && l.at > down
                && l.what
                    == NodeAction::Instance(
                        1,
                        Action::Log("(VI_B) Receive advertisement timeout".into()),
                    )
        })
        .unwrap()
        .at;
    assert_close(
        held,
        down + Duration::from_micros(100) + skew_v2(100),
        "held",
    );
    for seg in [Seg::A, Seg::B] {
        assert_close(
            lan.took(1, seg, down).unwrap(),
            last_a_advert + down_v2(100),
            "r2 takes both when VI_A's down timer expires",
        );
    }
    assert_eq!(
        lan.notifies(1, down),
        [
            "INSTANCE VI_A MASTER 100",
            "INSTANCE VI_B MASTER 100",
            "GROUP G1 MASTER 0"
        ]
    );

    // The interface comes back: BACKUP together, then preemption together.
    let up = lan.now;
    lan.plug(0, Seg::A);
    assert_lines(&lan.lines(0, up), sync_lab::FAULT_RECOVERY, "r1 recovery");
    assert_eq!(
        lan.notifies(0, up),
        [
            "INSTANCE VI_A BACKUP 200",
            "INSTANCE VI_B BACKUP 200",
            "GROUP G1 BACKUP 0"
        ]
    );
    lan.run_for(secs(5.0));
    for seg in [Seg::A, Seg::B] {
        assert_close(
            lan.took(0, seg, up).unwrap(),
            up + down_v2(200),
            "r1 preempts with both",
        );
    }
    let r1 = lan.lines(0, up);
    let preempt: Vec<&str> = r1
        .iter()
        .map(String::as_str)
        .filter(|l| !l.contains("discarding"))
        .skip(sync_lab::FAULT_RECOVERY.len())
        .collect();
    assert_eq!(preempt, sync_lab::PREEMPT_TOGETHER);
    assert_lines(
        &lan.lines(1, up + secs(1.0)),
        sync_lab::PULLED_TO_BACKUP_FROM_B,
        "r2 steps down",
    );

    // Stopping: the instances' STOP notifications, then the group's.
    let stop = lan.now;
    lan.stop(0);
    assert_eq!(
        lan.notifies(0, stop),
        [
            "INSTANCE VI_A STOP 200",
            "INSTANCE VI_B STOP 200",
            "GROUP G1 STOP 0"
        ]
    );
    assert_lines(&lan.lines(0, stop), sync_lab::STOP_MASTER, "r1 stop");
}

/// A peer with higher priorities for both members takes over: the new master's members
/// time out together (the first held, the second pulling it), and on the old master the
/// first member to hear a higher priority pushes the other to BACKUP.
#[test]
fn a_higher_priority_peer_pulls_the_other_member() {
    let mut lan = Lan::new(&[(150, 150), (200, 200)]);
    lan.start(0);
    lan.run_for(secs(6.0));
    let start2 = lan.now;
    lan.start(1);
    lan.run_for(secs(6.0));
    assert_eq!(lan.states(1), (State::Master, State::Master, State::Master));
    assert_eq!(lan.states(0), (State::Backup, State::Backup, State::Backup));
    for seg in [Seg::A, Seg::B] {
        // Lower-priority adverts are discarded: the down timer runs from the start.
        assert_close(
            lan.took(1, seg, start2).unwrap(),
            start2 + down_v2(200),
            "r2 takes over",
        );
    }
    let r2: Vec<String> = lan
        .lines(1, start2)
        .into_iter()
        .filter(|l| !l.contains("discarding"))
        .collect();
    assert_lines(&r2, sync_lab::START_ALONE, "r2");
    assert_lines(
        &lan.lines(0, start2),
        sync_lab::PULLED_TO_BACKUP_FROM_B_150,
        "r1",
    );
}

/// keepalived prefers BACKUP to thrashing: a member whose peer has a lower priority does
/// not take over while the other member is content as backup. It times out every down
/// interval, and stays BACKUP.
#[test]
fn a_member_alone_wanting_master_is_held_back() {
    let mut lan = Lan::new(&[(150, 150), (200, 100)]);
    lan.start(0);
    lan.run_for(secs(6.0));
    let start2 = lan.now;
    lan.start(1);
    lan.run_for(secs(10.0));
    assert_eq!(lan.states(0), (State::Master, State::Master, State::Master));
    assert_eq!(lan.states(1), (State::Backup, State::Backup, State::Backup));
    assert!(lan.took(1, Seg::A, start2).is_none());
    let timeouts: Vec<Duration> = lan
        .log
        .iter()
        .filter(|l| {
            l.router == 1
                && l.what
                    == NodeAction::Instance(
                        0,
                        Action::Log("(VI_A) Receive advertisement timeout".into()),
                    )
        })
        .map(|l| l.at - start2)
        .collect();
    // Measured: timeouts 3.2 s apart, three in ten seconds, no transition.
    assert_eq!(timeouts.len(), 3);
    for (n, t) in timeouts.iter().enumerate() {
        assert_close(*t, down_v2(200) * (u32::try_from(n).unwrap() + 1), "held");
    }
    assert!(!lan
        .lines(1, start2)
        .iter()
        .any(|l| l.contains("Entering MASTER")));
}

/// A backup member's interface fails: the group goes to FAULT; the other member, backup,
/// is set to FAULT without a log line of its own but with its FAULT notification.
#[test]
fn a_backup_member_failure_faults_the_group_quietly() {
    let mut lan = Lan::new(&[(200, 200), (100, 100)]);
    lan.start(0);
    lan.run_for(secs(6.0));
    lan.start(1);
    lan.run_for(secs(5.0));
    let down = lan.now;
    lan.unplug(1, Seg::A);
    assert_lines(&lan.lines(1, down), sync_lab::BACKUP_FAULT, "r2 fault");
    assert_eq!(lan.notifies(1, down), sync_lab::BACKUP_FAULT_NOTIFY);
    assert_eq!(lan.states(1), (State::Fault, State::Fault, State::Fault));
    lan.run_for(secs(4.0));
    let up = lan.now;
    lan.plug(1, Seg::A);
    assert_lines(&lan.lines(1, up), sync_lab::FAULT_RECOVERY, "r2 recovery");
    assert_eq!(
        lan.notifies(1, up),
        [
            "INSTANCE VI_A BACKUP 100",
            "INSTANCE VI_B BACKUP 100",
            "GROUP G1 BACKUP 0"
        ]
    );
    lan.run_for(secs(5.0));
    assert_eq!(lan.states(0), (State::Master, State::Master, State::Master));
    assert_eq!(lan.states(1), (State::Backup, State::Backup, State::Backup));
}

/// A member's interface down at start-up: the whole group starts in FAULT (the group
/// line, then every member's FAULT, then the group's notification), and comes up
/// together.
#[test]
fn a_member_down_at_start_starts_the_group_in_fault() {
    let mut lan = Lan::new(&[(200, 200), (100, 100)]);
    lan.start(0);
    lan.run_for(secs(5.0));
    lan.unplug(1, Seg::A);
    let start2 = lan.now;
    lan.start(1);
    assert_lines(&lan.lines(1, start2), sync_lab::START_IN_FAULT, "r2 start");
    assert_eq!(lan.notifies(1, start2), sync_lab::START_IN_FAULT_NOTIFY);
    assert_eq!(lan.states(1), (State::Fault, State::Fault, State::Fault));
    lan.run_for(secs(4.0));
    let up = lan.now;
    lan.plug(1, Seg::A);
    assert_lines(&lan.lines(1, up), sync_lab::FAULT_RECOVERY, "r2 recovery");
    assert_eq!(
        lan.notifies(1, up),
        [
            "INSTANCE VI_A BACKUP 100",
            "INSTANCE VI_B BACKUP 100",
            "GROUP G1 BACKUP 0"
        ]
    );
}

/// Both members' interfaces fail: the group's FAULT once; the first interface back
/// changes nothing, the group comes back when the last does (keepalived's
/// `num_member_fault`; measured: `hasg-a` up logs nothing, `hasg-b` up 2 s later logs
/// these three lines).
#[test]
fn members_recover_only_when_the_last_one_does() {
    let mut lan = Lan::new(&[(200, 200)]);
    lan.start(0);
    lan.run_for(secs(5.0));
    let down = lan.now;
    lan.unplug(0, Seg::A);
    lan.unplug(0, Seg::B);
    assert_eq!(lan.states(0), (State::Fault, State::Fault, State::Fault));
    assert_lines(&lan.lines(0, down), sync_lab::MASTER_FAULT, "both down");
    // VI_B, already in FAULT by its group, logs and notifies nothing more.
    assert_eq!(lan.notifies(0, down), sync_lab::MASTER_FAULT_NOTIFY);
    lan.run_for(secs(2.0));
    let a_up = lan.now;
    lan.plug(0, Seg::A);
    assert_eq!(lan.states(0), (State::Fault, State::Fault, State::Fault));
    assert!(lan.lines(0, a_up).is_empty());
    lan.run_for(secs(2.0));
    let b_up = lan.now;
    lan.plug(0, Seg::B);
    assert_eq!(lan.states(0), (State::Backup, State::Backup, State::Backup));
    assert_eq!(
        lan.lines(0, b_up),
        [
            "(VI_B) Entering BACKUP STATE",
            "VRRP_Group(G1) Syncing instances to BACKUP state",
            "(VI_A) Entering BACKUP STATE",
        ]
    );
    assert_eq!(
        lan.notifies(0, b_up),
        [
            "INSTANCE VI_B BACKUP 200",
            "INSTANCE VI_A BACKUP 200",
            "GROUP G1 BACKUP 0"
        ]
    );
    lan.run_for(secs(4.0));
    assert_eq!(lan.states(0), (State::Master, State::Master, State::Master));
}
