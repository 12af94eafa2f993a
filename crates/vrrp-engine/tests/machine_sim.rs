//! The state machine on a simulated LAN: several routers, a simulated clock, adverts
//! delivered as the real IPv4 packets the receive checks read. Expected times are
//! keepalived 2.2.7's formulas (`VRRP_MS_DOWN_TIMER` = 3 x interval + (256 - prio) / 256 s
//! for v2; the v3 skew in centiseconds), and the log lines are keepalived's own wording as
//! captured from the real daemon in the labs (`compat-tests`).

// The LAN's helpers are test code too: a panic there is the failure report.
#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use vrrp_engine::codec::{self, Advert, ChecksumMode, Family, Version, WireAuth};
use vrrp_engine::machine::{Action, Event, Instance, InstanceParams, State, Tracked, TrackedKind};
use vrrp_engine::rx::{Auth, Expected, Received};
use vrrp_engine::track::{TrackerId, TrackerState};

const VIP: Ipv4Addr = Ipv4Addr::new(192, 168, 56, 100);
const GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

/// A router's configuration in the tests' terms.
#[derive(Clone)]
struct Cfg {
    addr: Ipv4Addr,
    priority: u8,
    version: Version,
    interval: Duration,
    want_master: bool,
    nopreempt: bool,
    preempt_delay: Duration,
    tracked: Vec<Tracked>,
    auth: WireAuth,
}

fn cfg(last: u8, priority: u8) -> Cfg {
    Cfg {
        addr: Ipv4Addr::new(192, 168, 56, last),
        priority,
        version: Version::V2,
        interval: Duration::from_secs(1),
        want_master: false,
        nopreempt: false,
        preempt_delay: Duration::ZERO,
        tracked: Vec::new(),
        auth: WireAuth::None,
    }
}

fn params(c: &Cfg) -> InstanceParams {
    InstanceParams {
        name: "VI_1".into(),
        interface: "eth1".into(),
        vrid: 51,
        version: c.version,
        base_priority: c.priority,
        advert_int: c.interval,
        want_master: c.want_master,
        nopreempt: c.nopreempt,
        preempt_delay: c.preempt_delay,
        source: IpAddr::V4(c.addr),
        vips: vec![IpAddr::V4(VIP)],
        excluded_vips: 0,
        garp_repeat: 5,
        garp_delay: Duration::from_secs(5),
        garp_refresh: None,
        garp_refresh_repeat: 1,
        garp_lower_prio_repeat: 0,
        skip_check_adv_addr: false,
        log_detail: true,
        expected: Expected {
            name: "VI_1".into(),
            family: Family::V4,
            version: c.version,
            auth: match c.auth {
                WireAuth::Pass(d) => Auth::Pass(d),
                _ => Auth::None,
            },
            interval_centis: u32::try_from(c.interval.as_millis() / 10).unwrap(),
            vips: vec![IpAddr::V4(VIP)],
            unicast_peers: vec![],
            check_unicast_src: false,
            checksum_mode: ChecksumMode::Standard,
        },
        tracked: c.tracked.clone(),
    }
}

/// A whole IPv4 VRRP packet as a raw socket hands it over (built by the engine's own
/// builder, whose output `tests/ipv4_ah.rs` checks against keepalived's captures).
fn ipv4_packet(src: Ipv4Addr, payload: &[u8]) -> Vec<u8> {
    vrrp_engine::ipv4::build(
        &vrrp_engine::ipv4::Ipv4Fields::new(src, GROUP, 1),
        payload,
        None,
    )
    .unwrap()
}

struct Router {
    cfg: Cfg,
    instance: Instance,
    /// Connected to the LAN (unplugged routers neither send nor receive).
    plugged: bool,
    /// Whether the process runs at all (a killed router does nothing).
    alive: bool,
    holds_vip: bool,
}

/// What happened, for assertions.
#[derive(Debug, Clone, PartialEq)]
struct Logged {
    at: Duration,
    router: usize,
    what: Action,
}

struct Lan {
    now: Duration,
    routers: Vec<Router>,
    /// Adverts in flight: (delivery time, sender, bytes).
    in_flight: Vec<(Duration, usize, Vec<u8>)>,
    latency: Duration,
    log: Vec<Logged>,
}

impl Lan {
    fn new(cfgs: &[Cfg]) -> Lan {
        Lan {
            now: Duration::ZERO,
            routers: cfgs
                .iter()
                .map(|c| Router {
                    cfg: c.clone(),
                    instance: Instance::new(params(c)),
                    plugged: true,
                    alive: true,
                    holds_vip: false,
                })
                .collect(),
            in_flight: Vec::new(),
            latency: Duration::from_micros(100),
            log: Vec::new(),
        }
    }

    fn start_all(&mut self) {
        for i in 0..self.routers.len() {
            self.deliver(i, Event::Start);
        }
    }

    fn deliver(&mut self, i: usize, event: Event<'_>) {
        if !self.routers[i].alive {
            return;
        }
        let actions = self.routers[i].instance.handle(event, self.now);
        self.apply(i, actions);
    }

    fn apply(&mut self, i: usize, actions: Vec<Action>) {
        for a in actions {
            match &a {
                Action::Send { priority } if self.routers[i].plugged => {
                    let c = &self.routers[i].cfg;
                    let interval = match c.version {
                        Version::V2 => u16::try_from(c.interval.as_secs()).unwrap(),
                        Version::V3 => u16::try_from(c.interval.as_millis() / 10).unwrap(),
                    };
                    let advert = Advert {
                        version: c.version,
                        kind: 1,
                        vrid: 51,
                        priority: *priority,
                        interval,
                        auth: c.auth,
                        addresses: vec![IpAddr::V4(VIP)],
                    };
                    let payload = codec::encode(
                        &advert,
                        IpAddr::V4(c.addr),
                        IpAddr::V4(GROUP),
                        ChecksumMode::Standard,
                    )
                    .unwrap();
                    let bytes = ipv4_packet(c.addr, &payload);
                    self.in_flight.push((self.now + self.latency, i, bytes));
                }
                Action::AddAddresses => self.routers[i].holds_vip = true,
                Action::RemoveAddresses => self.routers[i].holds_vip = false,
                _ => {}
            }
            self.log.push(Logged {
                at: self.now,
                router: i,
                what: a,
            });
        }
    }

    /// Runs the LAN until `until`, delivering packets and timers in time order.
    fn run_until(&mut self, until: Duration) {
        loop {
            let next_packet = self.in_flight.iter().map(|p| p.0).min();
            let next_timer = self
                .routers
                .iter()
                .enumerate()
                .filter(|(_, r)| r.alive)
                .filter_map(|(i, r)| r.instance.next_deadline().map(|d| (d, i)))
                .min();
            let next = [next_packet, next_timer.map(|t| t.0)]
                .into_iter()
                .flatten()
                .min();
            let Some(next) = next else {
                self.now = until;
                return;
            };
            if next > until {
                self.now = until;
                return;
            }
            self.now = next;
            if next_packet == Some(next) {
                let idx = self.in_flight.iter().position(|p| p.0 == next).unwrap();
                let (_, from, bytes) = self.in_flight.remove(idx);
                for i in 0..self.routers.len() {
                    if i != from && self.routers[i].plugged && self.routers[i].alive {
                        let rx = Received {
                            bytes: &bytes,
                            v6_addrs: None,
                            v6_hop_limit: None,
                            v6_multicast: false,
                        };
                        let actions = self.routers[i]
                            .instance
                            .handle(Event::Packet(&rx), self.now);
                        self.apply(i, actions);
                    }
                }
            } else if let Some((_, i)) = next_timer {
                self.deliver(i, Event::Timer);
            }
        }
    }

    fn state(&self, i: usize) -> State {
        self.routers[i].instance.state()
    }

    fn holders(&self) -> Vec<usize> {
        (0..self.routers.len())
            .filter(|i| self.routers[*i].holds_vip)
            .collect()
    }

    /// When router `i` entered MASTER (its AddAddresses), after `after`.
    fn became_master(&self, i: usize, after: Duration) -> Option<Duration> {
        self.log
            .iter()
            .find(|l| l.router == i && l.at >= after && l.what == Action::AddAddresses)
            .map(|l| l.at)
    }

    fn lines(&self, i: usize) -> Vec<String> {
        self.log
            .iter()
            .filter(|l| l.router == i)
            .filter_map(|l| match &l.what {
                Action::Log(s) => Some(s.clone()),
                _ => None,
            })
            .collect()
    }

    fn sent_priorities(&self, i: usize, after: Duration) -> Vec<u8> {
        self.log
            .iter()
            .filter(|l| l.router == i && l.at >= after)
            .filter_map(|l| match l.what {
                Action::Send { priority } => Some(priority),
                _ => None,
            })
            .collect()
    }
}

/// keepalived's v2 master down interval for `prio`: 3 s + (256 - prio) * 1e6 / 256 µs.
fn down_v2(prio: u64) -> Duration {
    Duration::from_micros(3_000_000 + (256 - prio) * 1_000_000 / 256)
}

fn assert_close(got: Duration, want: Duration, what: &str) {
    let diff = got.abs_diff(want);
    assert!(
        diff <= ms(2),
        "{what}: got {got:?}, want {want:?} (keepalived's formula)"
    );
}

#[test]
fn election_higher_priority_wins_after_its_down_interval() {
    let mut lan = Lan::new(&[cfg(11, 100), cfg(12, 150)]);
    lan.start_all();
    lan.run_until(Duration::from_secs(10));
    assert_eq!(lan.state(1), State::Master);
    assert_eq!(lan.state(0), State::Backup);
    assert_eq!(lan.holders(), vec![1]);
    assert_close(
        lan.became_master(1, Duration::ZERO).unwrap(),
        down_v2(150),
        "first master",
    );
    let lines = lan.lines(1);
    assert_eq!(
        &lines[..6],
        [
            "(VI_1) removing VIPs.",
            "(VI_1) Entering BACKUP STATE (init)",
            "(VI_1) Receive advertisement timeout",
            "(VI_1) Entering MASTER STATE",
            "(VI_1) setting VIPs.",
            "(VI_1) Sending/queueing gratuitous ARPs on eth1 for 192.168.56.100",
        ]
    );
    // The backup never became master, and did not log a discarding line: 150 > 100.
    assert!(lan.became_master(0, Duration::ZERO).is_none());
}

#[test]
fn garp_bursts_on_takeover_and_after_garp_master_delay() {
    let mut lan = Lan::new(&[cfg(11, 100)]);
    lan.start_all();
    lan.run_until(Duration::from_secs(12));
    let at: Vec<Duration> = lan
        .log
        .iter()
        .filter(|l| matches!(l.what, Action::Announce(_)))
        .map(|l| l.at)
        .collect();
    assert_eq!(at.len(), 10, "5 on takeover and 5 after garp_master_delay");
    let took = lan.became_master(0, Duration::ZERO).unwrap();
    assert!(at[..5].iter().all(|t| *t == took));
    assert!(at[5..].iter().all(|t| *t == took + Duration::from_secs(5)));
}

#[test]
fn master_killed_backup_takes_over_after_master_down_interval() {
    let mut lan = Lan::new(&[cfg(11, 150), cfg(12, 100)]);
    lan.start_all();
    lan.run_until(Duration::from_secs(10));
    assert_eq!(lan.holders(), vec![0]);
    // SIGKILL: no priority-0 advert; the last advert left at t_last.
    let t_last = lan
        .log
        .iter()
        .filter(|l| l.router == 0 && matches!(l.what, Action::Send { .. }))
        .map(|l| l.at)
        .next_back()
        .unwrap();
    lan.routers[0].alive = false;
    lan.routers[0].holds_vip = false;
    lan.run_until(Duration::from_secs(20));
    let took = lan.became_master(1, Duration::from_secs(10)).unwrap();
    assert_close(
        took - t_last,
        down_v2(100) + lan.latency,
        "takeover after SIGKILL",
    );
}

#[test]
fn graceful_stop_hands_over_after_skew_time() {
    let mut lan = Lan::new(&[cfg(11, 150), cfg(12, 100)]);
    lan.start_all();
    lan.run_until(Duration::from_secs(10));
    let stop_at = lan.now;
    lan.deliver(0, Event::Stop);
    assert_eq!(
        lan.sent_priorities(0, stop_at),
        vec![0],
        "one priority-0 advert"
    );
    assert!(lan.holders().is_empty());
    lan.routers[0].alive = false;
    lan.run_until(Duration::from_secs(20));
    let took = lan.became_master(1, stop_at).unwrap();
    // Skew time: (256 - 100) / 256 s after the priority-0 advert arrives.
    assert_close(
        took - stop_at,
        Duration::from_micros(156 * 1_000_000 / 256) + lan.latency,
        "takeover after priority 0",
    );
    assert!(lan
        .lines(1)
        .contains(&"(VI_1) Backup received priority 0 advertisement".to_owned()));
}

#[test]
fn returning_higher_priority_preempts_by_discarding_lower_adverts() {
    let mut lan = Lan::new(&[cfg(11, 150), cfg(12, 100)]);
    lan.routers[0].alive = false;
    lan.start_all();
    lan.run_until(Duration::from_secs(10));
    assert_eq!(lan.holders(), vec![1]);
    let back_at = lan.now;
    lan.routers[0].alive = true;
    lan.deliver(0, Event::Start);
    lan.run_until(Duration::from_secs(20));
    let took = lan.became_master(0, back_at).unwrap();
    // keepalived discards the lower adverts and so takes over when its own down timer
    // runs out, not at once.
    assert_close(took - back_at, down_v2(150), "preempt-back");
    assert!(lan.lines(0).contains(
        &"(VI_1) received lower priority (100) advert from 192.168.56.12 - discarding".to_owned()
    ));
    assert!(lan.lines(1).contains(
        &"(VI_1) Master received advert from 192.168.56.11 with higher priority 150, ours 100"
            .to_owned()
    ));
    assert_eq!(lan.state(1), State::Backup);
    assert_eq!(lan.holders(), vec![0]);
}

#[test]
fn nopreempt_higher_priority_stays_backup() {
    let mut high = cfg(11, 150);
    high.nopreempt = true;
    let mut lan = Lan::new(&[high, cfg(12, 100)]);
    lan.routers[0].alive = false;
    lan.start_all();
    lan.run_until(Duration::from_secs(10));
    lan.routers[0].alive = true;
    lan.deliver(0, Event::Start);
    lan.run_until(Duration::from_secs(40));
    assert_eq!(lan.state(0), State::Backup);
    assert_eq!(lan.holders(), vec![1]);
}

#[test]
fn preempt_delay_defers_takeover() {
    let mut high = cfg(11, 150);
    high.preempt_delay = Duration::from_secs(10);
    let mut lan = Lan::new(&[high, cfg(12, 100)]);
    lan.routers[0].alive = false;
    lan.start_all();
    lan.run_until(Duration::from_secs(10));
    let back_at = lan.now;
    lan.routers[0].alive = true;
    lan.deliver(0, Event::Start);
    lan.run_until(Duration::from_secs(40));
    let took = lan.became_master(0, back_at).unwrap();
    // The first lower advert (~1 s after start) starts the 10 s delay; adverts keep the
    // down timer fresh until it passes; then the down interval runs out.
    let waited = took - back_at;
    assert!(
        waited > Duration::from_secs(13) && waited < Duration::from_secs(16),
        "preempt_delay 10 s: took over after {waited:?}"
    );
    assert!(lan
        .lines(0)
        .iter()
        .any(|l| l.starts_with("(VI_1) start preempt delay (10.000000)")));
}

#[test]
fn equal_priority_higher_address_wins() {
    let mut lan = Lan::new(&[cfg(11, 101), cfg(12, 101)]);
    lan.start_all();
    lan.run_until(Duration::from_secs(10));
    assert_eq!(lan.holders(), vec![1]);
    assert_eq!(lan.state(0), State::Backup);
}

#[test]
fn equal_priority_simultaneous_masters_resolve_to_higher_address() {
    // Both believe they are alone (unplugged), then meet.
    let mut lan = Lan::new(&[cfg(11, 101), cfg(12, 101)]);
    lan.routers[0].plugged = false;
    lan.start_all();
    lan.run_until(Duration::from_secs(10));
    assert_eq!(lan.holders(), vec![0, 1]);
    lan.routers[0].plugged = true;
    lan.run_until(Duration::from_secs(15));
    assert_eq!(lan.holders(), vec![1]);
    assert!(lan.lines(0).contains(
        &"(VI_1) Master received advert from 192.168.56.12 with same priority 101 but higher IP address than ours".to_owned()
    ));
    assert!(lan.lines(1).contains(
        &"(VI_1) Received advert from 192.168.56.11 with lower priority 101, ours 101, forcing new election".to_owned()
    ));
}

fn script(weight: i16) -> Vec<Tracked> {
    vec![Tracked {
        id: TrackerId(0),
        kind: TrackedKind::Script,
        name: "chk".into(),
        weight,
        reverse: false,
    }]
}

#[test]
fn tracker_weight_moves_the_master() {
    // Seed 001's shape: 101 + 2 while haproxy runs, the peer 100 + 2.
    let mut a = cfg(11, 101);
    a.tracked = script(2);
    let mut b = cfg(12, 100);
    b.tracked = script(2);
    let mut lan = Lan::new(&[a, b]);
    for i in 0..2 {
        lan.deliver(i, Event::Tracker(TrackerId(0), TrackerState::Ok));
    }
    lan.start_all();
    lan.run_until(Duration::from_secs(10));
    assert_eq!(lan.holders(), vec![0]);
    assert_eq!(lan.routers[0].instance.effective_priority(), 103);
    let fail_at = lan.now;
    lan.deliver(0, Event::Tracker(TrackerId(0), TrackerState::Failed));
    assert!(lan
        .lines(0)
        .contains(&"(VI_1) Changing effective priority from 103 to 101".to_owned()));
    lan.run_until(Duration::from_secs(20));
    let took = lan.became_master(1, fail_at).unwrap();
    // The backup (102) discards the master's 101 adverts; its down timer, last reset by
    // the master's last 103 advert, runs out.
    assert!(took - fail_at <= down_v2(102) + ms(2));
    assert_eq!(lan.holders(), vec![1]);
    assert_eq!(lan.state(0), State::Backup);
}

#[test]
fn priority_is_clamped_and_owner_never_changes() {
    let mut a = cfg(11, 250);
    a.tracked = script(50);
    let mut lan = Lan::new(&[a]);
    lan.deliver(0, Event::Tracker(TrackerId(0), TrackerState::Ok));
    assert_eq!(lan.routers[0].instance.effective_priority(), 254);
    let mut low = cfg(11, 10);
    low.tracked = script(-50);
    let mut lan = Lan::new(&[low]);
    lan.deliver(0, Event::Tracker(TrackerId(0), TrackerState::Failed));
    assert_eq!(lan.routers[0].instance.effective_priority(), 1);
    let mut owner = cfg(11, 255);
    owner.tracked = script(-50);
    let mut lan = Lan::new(&[owner]);
    lan.deliver(0, Event::Tracker(TrackerId(0), TrackerState::Failed));
    assert_eq!(lan.routers[0].instance.effective_priority(), 255);
}

#[test]
fn weight_zero_failure_is_fault_and_exit_is_through_backup() {
    let mut a = cfg(11, 150);
    a.tracked = script(0);
    let mut lan = Lan::new(&[a, cfg(12, 100)]);
    lan.deliver(0, Event::Tracker(TrackerId(0), TrackerState::Ok));
    lan.start_all();
    lan.run_until(Duration::from_secs(10));
    assert_eq!(lan.holders(), vec![0]);
    let fault_at = lan.now;
    lan.deliver(0, Event::Tracker(TrackerId(0), TrackerState::Failed));
    assert_eq!(lan.state(0), State::Fault);
    // keepalived sends priority 0 twice on MASTER -> FAULT (leave_master and
    // restore_interface both send one).
    assert_eq!(lan.sent_priorities(0, fault_at), vec![0, 0]);
    lan.run_until(Duration::from_secs(15));
    assert_eq!(lan.holders(), vec![1]);
    lan.deliver(0, Event::Tracker(TrackerId(0), TrackerState::Ok));
    assert_eq!(lan.state(0), State::Backup);
    let lines = lan.lines(0);
    assert!(lines.ends_with(&["(VI_1) Entering BACKUP STATE".to_owned()]));
    let up_at = lan.now;
    lan.run_until(Duration::from_secs(30));
    assert_close(
        lan.became_master(0, up_at).unwrap() - up_at,
        down_v2(150),
        "back from FAULT",
    );
}

#[test]
fn interface_down_at_start_enters_fault_init() {
    let mut a = cfg(11, 150);
    a.tracked = vec![Tracked {
        id: TrackerId(3),
        kind: TrackedKind::Interface { index: 3 },
        name: "eth1".into(),
        weight: 0,
        reverse: false,
    }];
    let mut lan = Lan::new(&[a]);
    lan.deliver(0, Event::Tracker(TrackerId(3), TrackerState::Failed));
    lan.start_all();
    assert_eq!(lan.state(0), State::Fault);
    // keepalived 2.2.7's `vrrp_complete_init()` line; never "Entering FAULT STATE
    // (init)" (see `start_with`).
    assert!(lan
        .lines(0)
        .contains(&"(VI_1) entering FAULT state".to_owned()));
    lan.run_until(Duration::from_secs(10));
    assert!(lan.holders().is_empty());
}

#[test]
fn owner_with_state_master_takes_over_at_once() {
    let mut a = cfg(11, 255);
    a.want_master = true;
    let mut lan = Lan::new(&[a, cfg(12, 100)]);
    lan.start_all();
    lan.run_until(Duration::from_millis(10));
    assert_eq!(lan.holders(), vec![0]);
    assert!(!lan
        .lines(0)
        .contains(&"(VI_1) Entering BACKUP STATE (init)".to_owned()));
}

/// Measured on the real keepalived 2.2.7 alone on a veth in a namespace (`state MASTER`,
/// priority 100, `advert_int 1`): the first advert 3.70 s after the process started, i.e.
/// the full master down interval (3 s + 156/256 s) plus start-up. `vrrp_init_state()`'s
/// "one adver_int + minimum skew" branch needs `new_state == BACKUP`, which only a sync
/// group member of a BACKUP group has.
#[test]
fn state_master_below_owner_waits_the_master_down_interval() {
    let mut a = cfg(11, 100);
    a.want_master = true;
    let mut lan = Lan::new(&[a]);
    lan.start_all();
    lan.run_until(Duration::from_secs(5));
    assert_close(
        lan.became_master(0, Duration::ZERO).unwrap(),
        Duration::from_micros(3_000_000 + 156 * 1_000_000 / 256),
        "state MASTER start",
    );
}

#[test]
fn v3_backup_adopts_the_masters_interval() {
    let mut fast = cfg(11, 150);
    fast.version = Version::V3;
    fast.interval = ms(500);
    let mut slow = cfg(12, 100);
    slow.version = Version::V3;
    slow.interval = ms(2000);
    let mut lan = Lan::new(&[fast, slow]);
    lan.start_all();
    lan.run_until(Duration::from_secs(20));
    assert_eq!(lan.holders(), vec![0]);
    assert_eq!(lan.routers[1].instance.master_adver_int(), ms(500));
    let t_last = lan.now;
    lan.routers[0].alive = false;
    lan.run_until(Duration::from_secs(30));
    let took = lan.became_master(1, t_last).unwrap() - t_last;
    // 3 x 50 cs + (256 - 100) * 50 * 625 / 16 µs, measured from the last advert (at most
    // one 500 ms interval before the kill).
    let down = Duration::from_micros(1_500_000 + 156 * 50 * 625 / 16);
    assert!(
        took <= down + ms(1) && took + ms(501) >= down,
        "v3 takeover {took:?}"
    );
    // On becoming master it goes back to its own interval.
    assert_eq!(lan.routers[1].instance.master_adver_int(), ms(2000));
}

#[test]
fn v2_interval_mismatch_is_dropped_silently() {
    let mut a = cfg(11, 150);
    a.interval = Duration::from_secs(2);
    let mut lan = Lan::new(&[a, cfg(12, 100)]);
    lan.start_all();
    lan.run_until(Duration::from_secs(10));
    // Both are master: keepalived ignores adverts with another v2 interval.
    assert_eq!(lan.holders(), vec![0, 1]);
    assert!(lan.log.iter().any(|l| matches!(l.what, Action::Reject(_))));
}

#[test]
fn wrong_password_never_changes_state() {
    let mut a = cfg(11, 150);
    a.auth = WireAuth::pass(b"secret");
    let mut b = cfg(12, 100);
    b.auth = WireAuth::pass(b"other");
    let mut lan = Lan::new(&[a, b]);
    lan.start_all();
    lan.run_until(Duration::from_secs(10));
    assert_eq!(lan.holders(), vec![0, 1]);
}

#[test]
fn stop_in_backup_sends_nothing() {
    let mut lan = Lan::new(&[cfg(11, 150), cfg(12, 100)]);
    lan.start_all();
    lan.run_until(Duration::from_secs(10));
    let at = lan.now;
    lan.deliver(1, Event::Stop);
    assert!(lan.sent_priorities(1, at).is_empty());
    assert_eq!(lan.state(1), State::Stopped);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Step {
        Wait(u64),
        Advert { priority: u8, from_last: u8 },
        Garbage(Vec<u8>),
        Tracker { id: usize, ok: bool },
        Stop,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (1u64..5000).prop_map(Step::Wait),
            (any::<u8>(), 1u8..254).prop_map(|(priority, from_last)| Step::Advert {
                priority,
                from_last
            }),
            proptest::collection::vec(any::<u8>(), 0..64).prop_map(Step::Garbage),
            (0usize..2, any::<bool>()).prop_map(|(id, ok)| Step::Tracker { id, ok }),
            Just(Step::Stop),
        ]
    }

    proptest! {
        /// Whatever arrives in whatever order: no panic, the addresses are set exactly
        /// while MASTER, the priority stays in keepalived's range, and a deadline exists
        /// while BACKUP or MASTER.
        #[test]
        fn any_sequence_keeps_the_invariants(
            base in 1u8..=255,
            weights in (-60i16..60, -60i16..60),
            steps in proptest::collection::vec(step(), 1..60),
        ) {
            let mut c = cfg(11, base);
            c.tracked = vec![
                Tracked { id: TrackerId(0), kind: TrackedKind::Script, name: "a".into(), weight: weights.0, reverse: false },
                Tracked { id: TrackerId(1), kind: TrackedKind::Process, name: "b".into(), weight: weights.1, reverse: true },
            ];
            let mut instance = Instance::new(params(&c));
            let mut now = Duration::ZERO;
            instance.handle(Event::Start, now);
            for s in steps {
                match s {
                    Step::Wait(ms_) => {
                        let until = now + ms(ms_);
                        while let Some(d) = instance.next_deadline() {
                            if d > until { break; }
                            now = now.max(d);
                            instance.handle(Event::Timer, now);
                        }
                        now = until;
                    }
                    Step::Advert { priority, from_last } => {
                        let src = Ipv4Addr::new(192, 168, 56, from_last);
                        let advert = Advert {
                            version: Version::V2, kind: 1, vrid: 51, priority, interval: 1,
                            auth: WireAuth::None, addresses: vec![IpAddr::V4(VIP)],
                        };
                        let payload = codec::encode(&advert, IpAddr::V4(src), IpAddr::V4(GROUP), ChecksumMode::Standard).unwrap();
                        let bytes = ipv4_packet(src, &payload);
                        let rx = Received { bytes: &bytes, v6_addrs: None, v6_hop_limit: None, v6_multicast: false };
                        instance.handle(Event::Packet(&rx), now);
                    }
                    Step::Garbage(bytes) => {
                        let rx = Received { bytes: &bytes, v6_addrs: None, v6_hop_limit: None, v6_multicast: false };
                        let before = instance.state();
                        instance.handle(Event::Packet(&rx), now);
                        prop_assert_eq!(instance.state(), before, "garbage changed the state");
                    }
                    Step::Tracker { id, ok } => {
                        let st = if ok { TrackerState::Ok } else { TrackerState::Failed };
                        instance.handle(Event::Tracker(TrackerId(id), st), now);
                    }
                    Step::Stop => {
                        instance.handle(Event::Stop, now);
                    }
                }
                prop_assert_eq!(instance.addresses_set(), instance.state() == State::Master);
                let p = instance.effective_priority();
                if base == 255 {
                    prop_assert!(p == 255 || p == 254);
                } else {
                    prop_assert!((1..=254).contains(&p));
                }
                if matches!(instance.state(), State::Backup | State::Master) {
                    prop_assert!(instance.next_deadline().is_some());
                }
                if instance.state() == State::Stopped { break; }
            }
        }
    }
}
