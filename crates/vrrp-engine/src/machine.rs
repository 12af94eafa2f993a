//! One VRRP instance's state machine, sans IO: [`Instance::handle`] takes an [`Event`] and
//! the current time and returns the [`Action`]s to carry out. Time is injected (a
//! [`Duration`] since any fixed origin), so tests drive it with a simulated clock.
//!
//! The transitions, timers and log lines follow keepalived 2.2.7 (`vrrp.c`:
//! `vrrp_state_backup`, `vrrp_state_master_rx`, `vrrp_state_master_tx`,
//! `vrrp_state_leave_master`, `vrrp_state_leave_fault`; `vrrp_scheduler.c`:
//! `vrrp_init_state`, `vrrp_dispatcher_read(_timeout)`; `vrrp_track.c`: `down_instance`,
//! `try_up_instance`, `vrrp_set_effective_priority`), including where keepalived departs
//! from the RFC:
//! - a backup that receives a lower-priority advert while preempting *discards* it (the
//!   down timer keeps running, so it takes over `3 x interval + skew` after the last
//!   advert it accepted), it does not take over at once;
//! - a master resets its advert timer whenever it processes a packet;
//! - `state MASTER` below priority 255 waits one interval plus the minimum skew.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use crate::ah::SeqCounter;
use crate::codec::Version;
use crate::rx::{self, Expected, Received};
use crate::track::{TrackerId, TrackerState};

/// keepalived's timer resolution: microseconds.
const TIMER_HZ: u64 = 1_000_000;
/// Priority 255: the address owner.
pub const PRIO_OWNER: u8 = 255;
/// Priority 0: the master is leaving.
pub const PRIO_STOP: u8 = 0;

/// The protocol state of an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Not started yet.
    Init,
    /// Listening for the master's adverts.
    Backup,
    /// Holding the addresses and advertising.
    Master,
    /// A tracked object says the instance must not serve.
    Fault,
    /// Shut down.
    Stopped,
}

impl State {
    /// The word keepalived uses in notify arguments and logs.
    pub fn word(self) -> &'static str {
        match self {
            State::Init => "INIT",
            State::Backup => "BACKUP",
            State::Master => "MASTER",
            State::Fault => "FAULT",
            State::Stopped => "STOP",
        }
    }
}

/// What kind of object a [`Tracked`] is (its log lines and start-up rules differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackedKind {
    /// A `vrrp_script`: until its first result a weight-0 one holds the instance in FAULT
    /// silently (keepalived's `num_script_init`).
    Script,
    /// A `vrrp_track_process`.
    Process,
    /// A `track_file`.
    File,
    /// An interface, with its kernel index (keepalived logs its start-up lines in the
    /// order of its interface list, which is the kernel's).
    Interface {
        /// The interface's index (0 if unknown).
        index: u32,
    },
}

/// A tracked object as an instance weighs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracked {
    /// Which tracker.
    pub id: TrackerId,
    /// What it is.
    pub kind: TrackedKind,
    /// The name, for log lines (`VRRP_Script` name, interface name...).
    pub name: String,
    /// The weight (0: a failure puts the instance in FAULT).
    pub weight: i16,
    /// `reverse`: the weight's sense is inverted.
    pub reverse: bool,
}

impl Tracked {
    /// keepalived's `weight_multiplier`.
    fn multiplier(&self) -> i32 {
        if self.reverse {
            -1
        } else {
            1
        }
    }

    /// keepalived's status of a tracked file: the value times the weight, clamped to
    /// -254..=253, where -254 means FAULT (`update_track_file_status`, `weight_range`).
    fn file_status(&self, value: i64) -> i64 {
        self.raw_file_status(value).clamp(-254, 253)
    }

    /// The status before clamping, as keepalived's start-up line prints it
    /// (`initialise_vrrp_file_tracking_priorities()`): -254 for a weight-0 file in FAULT.
    fn raw_file_status(&self, value: i64) -> i64 {
        if self.weight == 0 {
            return if (value != 0) != self.reverse {
                -254
            } else {
                0
            };
        }
        value
            .saturating_mul(i64::from(self.weight))
            .saturating_mul(i64::from(self.multiplier()))
    }

    /// keepalived's start-up (and reload) line for this tracker holding `instance` in
    /// FAULT (`vrrp_track.c`: `initialise_*_tracking_priorities()`,
    /// `initialise_track_script_state()`), with where it comes in keepalived's order.
    fn fault_reason(&self, instance: &str, state: TrackerState) -> FaultReason {
        let (pass, key, line) = match (self.kind, state) {
            (TrackedKind::Interface { index }, _) => (
                0,
                index,
                format!(
                    "({instance}): entering FAULT state (interface {} down)",
                    self.name
                ),
            ),
            (TrackedKind::File, TrackerState::Value(v)) => (
                1,
                0,
                format!(
                    "({instance}): entering FAULT state (tracked file {} has status {})",
                    self.name,
                    self.raw_file_status(v)
                ),
            ),
            (TrackedKind::File, _) => (
                1,
                0,
                format!(
                    "({instance}): entering FAULT state (tracked file {} has status -254)",
                    self.name
                ),
            ),
            (TrackedKind::Process, _) => (
                2,
                0,
                format!(
                    "({instance}) entering FAULT state (tracked process {} quorum not achieved)",
                    self.name
                ),
            ),
            (TrackedKind::Script, _) => (
                3,
                0,
                format!(
                    "({instance}): entering FAULT state due to script {}",
                    self.name
                ),
            ),
        };
        FaultReason {
            pass,
            key,
            tracker: self.id,
            line,
        }
    }

    /// What this tracker in `state` adds to the priority (keepalived's incremental updates
    /// in `process_script_update_priority()` and `process_update_track_process_status()`
    /// reduce to this). Nothing while it holds the instance in FAULT.
    fn contribution(&self, state: Option<TrackerState>) -> i32 {
        let w = i32::from(self.weight);
        match state {
            None => 0,
            Some(TrackerState::Ok) => w.max(0) * self.multiplier(),
            Some(TrackerState::Failed) => w.min(0) * self.multiplier(),
            Some(TrackerState::Value(_)) if self.faults(state) => 0,
            // In -254..=253 by `file_status`.
            Some(TrackerState::Value(v)) if self.weight != 0 => self.file_status(v) as i32,
            Some(TrackerState::Value(_)) => 0,
        }
    }

    /// Whether this tracker in `state` holds the instance in FAULT: a weight-0 tracker
    /// failing (or succeeding, with `reverse`), or a tracked file at -254 or below.
    fn faults(&self, state: Option<TrackerState>) -> bool {
        match state {
            None => false,
            Some(TrackerState::Value(v)) if self.weight != 0 => self.file_status(v) <= -254,
            _ if self.weight != 0 => false,
            Some(TrackerState::Ok) => self.reverse,
            Some(TrackerState::Failed) => !self.reverse,
            Some(TrackerState::Value(v)) => (v != 0) != self.reverse,
        }
    }
}

/// One start-up line saying which tracker holds an instance in FAULT, with its place in
/// keepalived's order: every interface's lines (by interface index), then every tracked
/// file's, then every process's (each by tracker, in configuration order), then each
/// instance's scripts (`initialise_tracking_priorities()`). Sort a node's reasons with
/// [`FaultReason::sort_key`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultReason {
    /// 0 interfaces, 1 files, 2 processes, 3 scripts.
    pass: u8,
    /// The interface index (interfaces).
    key: u32,
    tracker: TrackerId,
    /// The line.
    pub line: String,
}

impl FaultReason {
    /// The position of the line of instance number `instance` (in configuration order):
    /// the first three passes go tracker by tracker over the instances, the scripts'
    /// instance by instance.
    pub fn sort_key(&self, instance: usize) -> (u8, u32, usize, usize) {
        if self.pass == 3 {
            (self.pass, 0, instance, self.tracker.0)
        } else {
            (self.pass, self.key, self.tracker.0, instance)
        }
    }

    /// Whether the line comes in the pass over each instance (scripts), after the passes
    /// over the trackers.
    pub fn per_instance(&self) -> bool {
        self.pass == 3
    }
}

/// What a member of a `vrrp_sync_group` must know of its group at a transition: keepalived
/// reads it from the group and the other members as it goes; the caller
/// ([`crate::sync_group::Node`]) works it out before each call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupView {
    /// `vrrp_sync_can_goto_master()`: the group is MASTER, or every other member wants
    /// MASTER. When false, a member that would become master stays BACKUP, wanting MASTER,
    /// for another master down interval.
    pub may_become_master: bool,
    /// Another member is held in FAULT by its own trackers (keepalived's group
    /// `num_member_fault` less this member): a member whose trackers recover stays in
    /// FAULT until the last one does.
    pub other_member_faulted: bool,
}

/// Everything about an instance that does not change while it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceParams {
    /// Instance name (`VI_1`).
    pub name: String,
    /// `interface`.
    pub interface: String,
    /// Virtual router id.
    pub vrid: u8,
    /// VRRP version.
    pub version: Version,
    /// Configured priority.
    pub base_priority: u8,
    /// Configured advert interval (keepalived's resolution: v2 whole seconds, v3 cs).
    pub advert_int: Duration,
    /// `state MASTER`.
    pub want_master: bool,
    /// `nopreempt`.
    pub nopreempt: bool,
    /// `preempt_delay` (zero: none).
    pub preempt_delay: Duration,
    /// Our source address: the tie-break with an equal-priority peer.
    pub source: IpAddr,
    /// The virtual addresses (for the announcement log lines): `virtual_ipaddress`, then
    /// `virtual_ipaddress_excluded`.
    pub vips: Vec<IpAddr>,
    /// How many of `vips` (the last ones) are `virtual_ipaddress_excluded` (keepalived's
    /// E-VIPs, with their own "setting E-VIPs." lines).
    pub excluded_vips: usize,
    /// GARP / NA messages per burst (`garp_master_repeat`).
    pub garp_repeat: u32,
    /// Second burst after becoming master (`garp_master_delay`; zero: none).
    pub garp_delay: Duration,
    /// Periodic refresh while master (`garp_master_refresh`).
    pub garp_refresh: Option<Duration>,
    /// Messages per refresh (`garp_master_refresh_repeat`).
    pub garp_refresh_repeat: u32,
    /// `garp_lower_prio_repeat` (0: none).
    pub garp_lower_prio_repeat: u32,
    /// `skip_check_adv_addr`.
    pub skip_check_adv_addr: bool,
    /// keepalived's `-D` (`LOG_DETAIL`): the detail lines are logged.
    pub log_detail: bool,
    /// What the receive checks expect.
    pub expected: Expected,
    /// Tracked objects.
    pub tracked: Vec<Tracked>,
}

/// An input to the machine.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// Start: enter BACKUP (or FAULT) as keepalived's `vrrp_init_state` does.
    Start,
    /// A packet arrived for this instance's VRID.
    Packet(&'a Received<'a>),
    /// The clock reached [`Instance::next_deadline`] (early calls are harmless).
    Timer,
    /// A tracked object changed state.
    Tracker(TrackerId, TrackerState),
    /// Shut down: a master sends priority 0 and releases its addresses.
    Stop,
}

/// What the runtime must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send an advert with this priority (to the group or to every unicast peer).
    Send {
        /// Priority carried.
        priority: u8,
    },
    /// Add the virtual addresses (and routes).
    AddAddresses,
    /// Remove the virtual addresses (and routes).
    RemoveAddresses,
    /// One gratuitous ARP / unsolicited NA for this address.
    Announce(IpAddr),
    /// Run the notifications for entering this state, with this priority.
    Notify(State, u8),
    /// `notify_master_rx_lower_pri`.
    NotifyMasterRxLowerPri,
    /// A log line (without the daemon's prefix).
    Log(String),
    /// Count a received packet that was not accepted, under this stats name.
    Reject(&'static str),
}

/// One instance.
#[derive(Debug, Clone)]
pub struct Instance {
    params: InstanceParams,
    state: State,
    /// keepalived's `wantstate`.
    want: State,
    effective_priority: u8,
    /// Base plus tracker contributions, unclamped.
    total_priority: i32,
    /// The interval in force: ours, or (v3 backup) the master's.
    master_adver_int: u64,
    /// Current master down interval, µs.
    ms_down_timer: u64,
    /// When the instance's timer fires (`sands`); `None` is TIMER_DISABLED.
    sands: Option<Duration>,
    /// `preempt_time`: set while a preempt delay runs.
    preempt_time: Option<Duration>,
    /// The second GARP burst after becoming master.
    garp_delay_at: Option<Duration>,
    /// Next periodic GARP refresh.
    garp_refresh_at: Option<Duration>,
    /// Whether the VIPs are set (keepalived's `vipset`).
    vip_set: bool,
    /// The last master's address and priority seen.
    master_addr: Option<IpAddr>,
    master_priority: u8,
    tracker_states: BTreeMap<TrackerId, TrackerState>,
    /// Trackers holding the instance in FAULT.
    faults: usize,
    /// Weight-0 scripts that have not reported yet (keepalived's `num_script_init`): while
    /// any has not, the instance stays in FAULT without a word.
    scripts_init: usize,
    /// [`Instance::enter_fault_at_start`] has put the instance in FAULT; the start itself
    /// is still to come.
    fault_at_start: bool,
    /// keepalived's `ipsecah_counter`: one per instance, moved by received adverts too.
    ah_counter: SeqCounter,
    /// Set for the duration of a call made on behalf of a sync group.
    group: Option<GroupView>,
}

impl Instance {
    /// A new instance in INIT.
    pub fn new(params: InstanceParams) -> Instance {
        let base = params.base_priority;
        let interval = micros(params.advert_int);
        let mut instance = Instance {
            params,
            state: State::Init,
            want: State::Backup,
            effective_priority: base,
            total_priority: i32::from(base),
            master_adver_int: interval,
            ms_down_timer: 0,
            sands: None,
            preempt_time: None,
            garp_delay_at: None,
            garp_refresh_at: None,
            vip_set: false,
            master_addr: None,
            master_priority: 0,
            tracker_states: BTreeMap::new(),
            faults: 0,
            scripts_init: 0,
            fault_at_start: false,
            ah_counter: SeqCounter::default(),
            group: None,
        };
        instance.scripts_init = instance
            .params
            .tracked
            .iter()
            .filter(|t| t.kind == TrackedKind::Script && t.weight == 0)
            .count();
        if instance.params.want_master {
            instance.want = State::Master;
        }
        instance.ms_down_timer = instance.master_down_interval();
        instance
    }

    /// The configuration this instance runs.
    pub fn params(&self) -> &InstanceParams {
        &self.params
    }

    /// Current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Priority advertised now (base plus trackers, clamped to 1..254; 255 never changes).
    pub fn effective_priority(&self) -> u8 {
        self.effective_priority
    }

    /// The interval in force, µs (v3 backups adopt the master's).
    pub fn master_adver_int(&self) -> Duration {
        Duration::from_micros(self.master_adver_int)
    }

    /// The priority of the last master heard.
    pub fn master_priority(&self) -> u8 {
        self.master_priority
    }

    /// The address of the last master heard.
    pub fn master_addr(&self) -> Option<IpAddr> {
        self.master_addr
    }

    /// Whether the virtual addresses are set.
    pub fn addresses_set(&self) -> bool {
        self.vip_set
    }

    /// The AH sequence number for the next advert sent (`auth_type AH`): keepalived's one
    /// counter per instance, which follows the master's numbers while backup.
    pub fn next_ah_seq(&mut self) -> u32 {
        self.ah_counter.next_for_send()
    }

    /// When [`Event::Timer`] must be delivered next (`None`: no timer running).
    pub fn next_deadline(&self) -> Option<Duration> {
        [self.sands, self.garp_delay_at, self.garp_refresh_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// Feeds one event at time `now`; returns what to do, in order.
    pub fn handle(&mut self, event: Event<'_>, now: Duration) -> Vec<Action> {
        let mut out = Vec::new();
        match event {
            Event::Start => self.start(now, &mut out),
            Event::Packet(rx) => self.packet(rx, now, &mut out),
            Event::Timer => self.timer(now, &mut out),
            Event::Tracker(id, state) => self.tracker(id, state, now, &mut out),
            Event::Stop => self.stop(&mut out),
        }
        out
    }

    // --- as a member of a sync group (driven by `sync_group::Node`) -----------------

    /// [`Instance::handle`] for a member of a sync group: becoming master waits for the
    /// group (`vrrp_state_goto_master()`), and recovering from FAULT waits for the other
    /// members (`try_up_instance()`).
    pub fn handle_in_group(
        &mut self,
        event: Event<'_>,
        now: Duration,
        view: GroupView,
    ) -> Vec<Action> {
        self.group = Some(view);
        let out = self.handle(event, now);
        self.group = None;
        out
    }

    /// The state this instance would be in disregarding its sync group (`wantstate`).
    pub fn wants(&self) -> State {
        self.want
    }

    /// Whether the instance's own trackers hold it in FAULT.
    pub fn tracker_fault(&self) -> bool {
        self.faults > 0
    }

    /// Whether weight-0 scripts have yet to report (keepalived's `num_script_init`).
    pub fn scripts_init(&self) -> bool {
        self.scripts_init > 0
    }

    /// keepalived's lines naming each tracker that holds this instance in FAULT, as it
    /// logs them at start-up and on reload (the caller puts every instance's lines in
    /// keepalived's order with [`FaultReason::sort_key`]).
    pub fn fault_reasons(&self) -> Vec<FaultReason> {
        self.params
            .tracked
            .iter()
            .filter_map(|t| {
                let state = *self.tracker_states.get(&t.id)?;
                t.faults(Some(state))
                    .then(|| t.fault_reason(&self.params.name, state))
            })
            .collect()
    }

    /// `vrrp_sync_master()` on this member: it wants MASTER and goes there if the group
    /// lets it (`vrrp_state_goto_master()`).
    pub fn sync_to_master(&mut self, now: Duration, view: GroupView) -> Vec<Action> {
        let mut out = Vec::new();
        self.group = Some(view);
        self.want = State::Master;
        self.goto_master(now, &mut out);
        self.group = None;
        out
    }

    /// `vrrp_sync_backup()` on this member: leave MASTER or FAULT for BACKUP.
    pub fn sync_to_backup(&mut self, now: Duration) -> Vec<Action> {
        let mut out = Vec::new();
        self.want = State::Backup;
        match self.state {
            State::Fault | State::Init => self.leave_fault(now, &mut out),
            State::Master => self.leave_master(false, now, &mut out),
            State::Backup | State::Stopped => {}
        }
        out
    }

    /// `vrrp_sync_fault()` on this member. A master leaves as for any FAULT (logged, a
    /// priority-0 advert, its addresses removed); a backup is set to FAULT first ("a bit of
    /// a bodge", keepalived says) so it logs nothing, but its FAULT notifications run
    /// (measured: real keepalived 2.2.7 logs no line for the backup member and runs its
    /// `notify` with `INSTANCE VI_B FAULT`).
    pub fn sync_to_fault(&mut self, now: Duration) -> Vec<Action> {
        let mut out = Vec::new();
        self.want = State::Fault;
        match self.state {
            State::Master => self.leave_master(false, now, &mut out),
            State::Backup | State::Init => {
                self.state = State::Fault;
                self.leave_fault(now, &mut out);
                // `vrrp_state_leave_fault()` always calls `send_instance_notifies()`.
                out.push(Action::Notify(State::Fault, self.effective_priority));
            }
            State::Fault | State::Stopped => {}
        }
        out
    }

    /// The side effect of `vrrp_sync_can_goto_master()` refusing: another master down
    /// interval from now.
    pub fn hold_for_group(&mut self, now: Duration) {
        self.ms_down_timer = self.master_down_interval();
        self.set_sands(now);
    }

    /// The gratuitous ARPs / NAs another member of the group sends when one member, master,
    /// received a lower-priority advert (`vrrp_state_master_rx()`: members with
    /// `garp_lower_prio_repeat` set).
    pub fn lower_prio_garp(&self) -> Vec<Action> {
        let mut out = Vec::new();
        if self.params.garp_lower_prio_repeat > 0 {
            self.link_update(self.params.garp_lower_prio_repeat, &mut out);
        }
        out
    }

    /// keepalived's `vrrp_complete_init()` for a member of a group in FAULT at start-up:
    /// `(VI_1) entering FAULT state` and the FAULT notifications, before the group's.
    /// The same for an instance its own trackers hold down; its start
    /// ([`Event::Start`]) follows, after every instance has had this line.
    pub fn enter_fault_at_start(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        if self.state == State::Init {
            self.log(&mut out, "entering FAULT state".into());
            self.state = State::Fault;
            self.want = State::Fault;
            self.fault_at_start = true;
            out.push(Action::Notify(State::Fault, self.effective_priority));
        }
        out
    }

    /// `vrrp_init_state()` for a member of a group in `group_state`: the group's state
    /// decides, not the member's own `state` (keepalived's `new_state`).
    pub fn start_in_group(&mut self, group_state: State, now: Duration) -> Vec<Action> {
        let mut out = Vec::new();
        let begin = self.state;
        if !matches!(begin, State::Init | State::Fault) {
            return out;
        }
        if begin == State::Fault {
            self.want = State::Fault;
        }
        self.fault_at_start = false;
        self.detail(&mut out, "removing VIPs.".into());
        out.push(Action::RemoveAddresses);
        let up = self.faults == 0 && self.scripts_init == 0;
        if up
            && group_state == State::Master
            && self.want == State::Master
            && self.params.base_priority == PRIO_OWNER
        {
            self.state = State::Backup;
            self.ms_down_timer = 1;
        } else {
            self.ms_down_timer = if group_state == State::Backup && self.want == State::Master {
                self.master_adver_int + self.skew_for(1)
            } else {
                self.master_down_interval()
            };
            if up && group_state != State::Fault {
                if self.state != State::Backup {
                    self.log(&mut out, "Entering BACKUP STATE (init)".into());
                    self.state = State::Backup;
                    out.push(Action::Notify(State::Backup, self.effective_priority));
                }
            } else {
                // keepalived compares the state with itself before logging "Entering
                // FAULT STATE (init)", so that line never appears; the notification is
                // sent for an instance its own trackers hold down.
                self.state = State::Fault;
                if begin != State::Fault && self.faults > 0 {
                    out.push(Action::Notify(State::Fault, self.effective_priority));
                }
            }
        }
        self.set_sands(now);
        out
    }

    // --- timers -------------------------------------------------------------------

    /// keepalived's `VRRP_TIMER_SKEW_CALC` for `pri_val`, µs.
    fn skew_for(&self, pri_val: u64) -> u64 {
        match self.params.version {
            // (pri * (master_adver_int / TIMER_CENTI_HZ) * 625) / 16
            Version::V3 => pri_val * (self.master_adver_int / 10_000) * 625 / 16,
            Version::V2 => pri_val * TIMER_HZ / 256,
        }
    }

    fn skew(&self) -> u64 {
        self.skew_for(256 - u64::from(self.effective_priority))
    }

    /// `VRRP_MS_DOWN_TIMER`: 3 x master interval + skew.
    fn master_down_interval(&self) -> u64 {
        3 * self.master_adver_int + self.skew()
    }

    /// `vrrp_init_instance_sands`.
    fn set_sands(&mut self, now: Duration) {
        self.sands = match self.state {
            State::Master => Some(now + Duration::from_micros(self.params_interval())),
            State::Backup => Some(now + Duration::from_micros(self.ms_down_timer)),
            _ => None,
        };
    }

    fn params_interval(&self) -> u64 {
        micros(self.params.advert_int)
    }

    fn log(&self, out: &mut Vec<Action>, line: String) {
        out.push(Action::Log(format!("({}) {line}", self.params.name)));
    }

    /// keepalived's other prefix, `(VI_1): ...`, which some of its lines have.
    fn log_colon(&self, out: &mut Vec<Action>, line: String) {
        out.push(Action::Log(format!("({}): {line}", self.params.name)));
    }

    /// `vrrp_handle_ipaddress`'s lines: "(VI_1) setting VIPs." / "removing E-VIPs.", one
    /// per non-empty list (`verb`: "sett" or "remov").
    fn vip_lines(&self, out: &mut Vec<Action>, verb: &str) {
        if self.params.vips.len() > self.params.excluded_vips {
            self.detail(out, format!("{verb}ing VIPs."));
        }
        if self.params.excluded_vips > 0 {
            self.detail(out, format!("{verb}ing E-VIPs."));
        }
    }

    fn detail(&self, out: &mut Vec<Action>, line: String) {
        if self.params.log_detail {
            self.log(out, line);
        }
    }

    // --- start and stop -----------------------------------------------------------

    /// `vrrp_init_state` for one instance.
    fn start(&mut self, now: Duration, out: &mut Vec<Action>) {
        self.start_with(true, now, out);
    }

    /// `vrrp_init_state`; `remove_stale`: at process start (not for an instance a reload
    /// adds) keepalived first removes addresses a previous run may have left.
    fn start_with(&mut self, remove_stale: bool, now: Duration, out: &mut Vec<Action>) {
        let entered_fault = std::mem::take(&mut self.fault_at_start);
        if self.state != State::Init && !entered_fault {
            return;
        }
        // Weight-0 scripts without a result yet: FAULT, silently and without notifying
        // (`vrrp_init_state()` compares the state with itself; the notifications need
        // `num_script_if_fault`). Measured on 2.2.7: no line until the script reports.
        let up = self.faults == 0 && self.scripts_init == 0;
        if self.faults > 0 && !entered_fault {
            // `vrrp_complete_init()`, before any address is touched: "(VI_1) entering
            // FAULT state" and the notifications. `vrrp_init_state()` then compares the
            // state with itself, so "Entering FAULT STATE (init)" never appears in 2.2.7.
            self.log(out, "entering FAULT state".into());
            out.push(Action::Notify(State::Fault, self.effective_priority));
        }
        if remove_stale {
            // keepalived's "removing VIPs." at start, from `vrrp_restore_interface`.
            self.vip_lines(out, "remov");
            out.push(Action::RemoveAddresses);
        }
        if up && self.want == State::Master && self.params.base_priority == PRIO_OWNER {
            // "The simplest way to become master is to time out from the backup state
            // very quickly (1usec)".
            self.state = State::Backup;
            self.ms_down_timer = 1;
        } else {
            // `state MASTER` below 255 waits the full master down interval like any
            // backup: keepalived's shorter "one adver_int + minimum skew" applies only to
            // a sync group member whose group is BACKUP (`start_in_group`). Measured on
            // the real 2.2.7 alone on a link: first advert 3.70 s after start (1.05 s
            // before this fix).
            self.ms_down_timer = self.master_down_interval();
            if up {
                self.log(out, "Entering BACKUP STATE (init)".into());
                self.state = State::Backup;
                out.push(Action::Notify(State::Backup, self.effective_priority));
            } else {
                self.state = State::Fault;
            }
        }
        self.set_sands(now);
    }

    // --- reload ------------------------------------------------------------------

    /// An instance a reload adds: started as at process start, except that keepalived
    /// does not remove its addresses first (no "removing VIPs." line; seen on 2.2.7).
    pub fn start_added_on_reload(&mut self, now: Duration) -> Vec<Action> {
        let mut out = Vec::new();
        self.start_with(false, now, &mut out);
        out
    }

    /// Takes over from `old`, the instance this one replaces on a reload (keepalived's
    /// `vrrp_exist` match: same vrid, family, interface, unicast source). `self` is new
    /// (in INIT) from the new configuration, with the carried tracker states already fed
    /// as [`Event::Tracker`]s (which logs "Changing effective priority", as keepalived
    /// does on every reload). `added_addresses`: the new configuration has addresses the
    /// old one had not.
    ///
    /// keepalived 2.2.7's reload (`restore_vrrp_state`, `vrrp_complete_init` and
    /// `vrrp_init_state` with `reload` set): MASTER and BACKUP are kept unless the new
    /// trackers put the instance in FAULT; a master keeps its addresses ("setting VIPs.",
    /// adding the new ones, with a GARP burst only if addresses were added) and
    /// advertises at once; a backup restarts its master down timer; the AH counter
    /// carries on. An old FAULT instance starts afresh (keepalived works the fault out
    /// again rather than carrying it).
    pub fn resume(&mut self, old: &Instance, added_addresses: bool, now: Duration) -> Vec<Action> {
        let mut out = Vec::new();
        if self.state != State::Init {
            return out;
        }
        self.ah_counter = old.ah_counter;
        self.vip_set = old.vip_set;
        if self.faults > 0 {
            if old.state != State::Fault {
                self.log(&mut out, "entering FAULT state".into());
                out.push(Action::Notify(State::Fault, self.effective_priority));
            }
            self.state = State::Fault;
            self.want = State::Fault;
            // `vrrp_restore_interface(vrrp, false, false)`: no priority-0 advert here.
            self.restore_interface(false, &mut out);
            self.set_sands(now);
            return out;
        }
        match old.state {
            State::Master => {
                self.state = State::Master;
                self.want = State::Master;
                if self.vip_set {
                    self.vip_lines(&mut out, "sett");
                    out.push(Action::AddAddresses);
                    if added_addresses {
                        self.link_update(self.params.garp_repeat, &mut out);
                    }
                    if let Some(refresh) = self.params.garp_refresh {
                        self.garp_refresh_at = Some(now + refresh);
                    }
                }
                // `reload_master`: sands = now, the first advert goes at once.
                self.sands = Some(now);
            }
            State::Backup => {
                self.state = State::Backup;
                self.want = State::Backup;
                self.ms_down_timer = self.master_down_interval();
                self.restore_interface(false, &mut out);
                self.set_sands(now);
            }
            _ => self.start_with(false, now, &mut out),
        }
        out
    }

    /// An instance a reload deletes (`clear_diff_vrrp`): a master sends priority 0 and
    /// releases its addresses; the notifications say FAULT (keepalived's default without
    /// `notify_deleted`) unless it was in FAULT already.
    pub fn delete(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        if self.state == State::Master {
            self.restore_interface(true, &mut out);
        }
        if !matches!(self.state, State::Fault | State::Init | State::Stopped) {
            out.push(Action::Notify(State::Fault, self.effective_priority));
        }
        self.state = State::Stopped;
        self.sands = None;
        self.garp_delay_at = None;
        self.garp_refresh_at = None;
        out
    }

    fn stop(&mut self, out: &mut Vec<Action>) {
        if self.state == State::Master {
            out.push(Action::Send {
                priority: PRIO_STOP,
            });
            self.detail(out, "sent 0 priority".into());
        }
        if self.vip_set {
            self.vip_lines(out, "remov");
            out.push(Action::RemoveAddresses);
            self.vip_set = false;
        }
        if self.state != State::Init && self.state != State::Stopped {
            out.push(Action::Notify(State::Stopped, self.effective_priority));
        }
        self.state = State::Stopped;
        self.sands = None;
        self.garp_delay_at = None;
        self.garp_refresh_at = None;
    }

    // --- the timer ------------------------------------------------------------------

    fn timer(&mut self, now: Duration, out: &mut Vec<Action>) {
        if let Some(at) = self.garp_delay_at {
            if at <= now {
                self.garp_delay_at = None;
                if self.state == State::Master {
                    self.link_update(self.params.garp_repeat, out);
                }
            }
        }
        let Some(sands) = self.sands else {
            return;
        };
        if sands > now {
            return;
        }
        match self.state {
            State::Backup => {
                self.detail(out, "Receive advertisement timeout".into());
                self.want = State::Master;
                self.goto_master(now, out);
            }
            State::Master => self.master_tx(now, out),
            _ => {}
        }
        self.set_sands(now);
    }

    /// `vrrp_state_goto_master`.
    fn goto_master(&mut self, now: Duration, out: &mut Vec<Action>) {
        if self.group.is_some_and(|g| !g.may_become_master) {
            // `vrrp_sync_can_goto_master()` refused: "prefer backup state to avoid
            // thrashing"; wait another down interval, still wanting MASTER.
            self.hold_for_group(now);
            self.want = State::Master;
            return;
        }
        // "If becoming MASTER in IPSEC AH AUTH, we reset the anti-replay."
        if self.ah_counter.cycle {
            self.ah_counter = SeqCounter::default();
        }
        self.state = State::Master;
        self.set_sands(now);
        self.master_tx(now, out);
    }

    /// `vrrp_state_master_tx`: advertise; on the first advert as master take the
    /// addresses.
    fn master_tx(&mut self, now: Duration, out: &mut Vec<Action>) {
        out.push(Action::Send {
            priority: self.effective_priority,
        });
        if !self.vip_set {
            self.log(out, "Entering MASTER STATE".into());
            self.become_master(now, out);
            if !self.params.garp_delay.is_zero() {
                self.garp_delay_at = Some(now + self.params.garp_delay);
            }
        } else if let (Some(refresh), Some(at)) = (self.params.garp_refresh, self.garp_refresh_at) {
            if now > at {
                self.link_update(self.params.garp_refresh_repeat, out);
                self.garp_refresh_at = Some(now + refresh);
            }
        }
    }

    /// `vrrp_state_become_master`.
    fn become_master(&mut self, now: Duration, out: &mut Vec<Action>) {
        if self.params.version == Version::V3 && self.master_adver_int != self.params_interval() {
            self.detail(
                out,
                format!(
                    "changing advert interval from {}ms to locally configured {}ms",
                    self.master_adver_int / 1000,
                    self.params_interval() / 1000
                ),
            );
            self.master_adver_int = self.params_interval();
        }
        self.vip_lines(out, "sett");
        out.push(Action::AddAddresses);
        self.vip_set = true;
        self.link_update(self.params.garp_repeat, out);
        if let Some(refresh) = self.params.garp_refresh {
            self.garp_refresh_at = Some(now + refresh);
        }
        out.push(Action::Notify(State::Master, self.effective_priority));
    }

    /// `vrrp_send_link_update`: `repeat` rounds of one announcement per address.
    fn link_update(&self, repeat: u32, out: &mut Vec<Action>) {
        if !self.vip_set {
            return;
        }
        for round in 0..repeat {
            for vip in &self.params.vips {
                if round == 0 {
                    let what = match vip {
                        IpAddr::V4(_) => "gratuitous ARPs",
                        IpAddr::V6(_) => "Unsolicited Neighbour Adverts",
                    };
                    self.detail(
                        out,
                        format!(
                            "Sending/queueing {what} on {} for {vip}",
                            self.params.interface
                        ),
                    );
                }
                out.push(Action::Announce(*vip));
            }
        }
    }

    // --- received packets -------------------------------------------------------

    fn packet(&mut self, rx: &Received<'_>, now: Duration, out: &mut Vec<Action>) {
        match self.state {
            State::Backup => self.backup_rx(rx, now, out),
            State::Master => {
                if self.master_rx(rx, out) {
                    self.leave_master(false, now, out);
                }
            }
            // "We just ignore a message received when we are in fault state."
            _ => return,
        }
        self.set_sands(now);
    }

    /// Runs the receive checks; logs and counts a rejection.
    fn check(
        &mut self,
        rx: &Received<'_>,
        check_addresses: bool,
        out: &mut Vec<Action>,
    ) -> Option<rx::Accepted> {
        match rx::check(
            &self.params.expected,
            rx,
            check_addresses,
            &mut self.ah_counter,
        ) {
            Ok(accepted) => Some(accepted),
            Err(rejection) => {
                out.push(Action::Reject(rejection.counter()));
                if let Some(line) = rejection.message(&self.params.name) {
                    out.push(Action::Log(line));
                }
                None
            }
        }
    }

    /// `vrrp_state_backup`.
    fn backup_rx(&mut self, rx: &Received<'_>, now: Duration, out: &mut Vec<Action>) {
        let check_addresses = !self.params.skip_check_adv_addr
            || self.master_addr.is_none()
            || self.master_addr != packet_source(rx, &self.params.expected);
        let accepted = self.check(rx, check_addresses, out);
        let mut ignore = accepted.is_none();
        if let Some(accepted) = accepted {
            if accepted.ah_seq.is_some() {
                self.ah_counter.cycle = false;
            }
            let prio = accepted.advert.priority;
            let preempt_delay_holds = !self.params.preempt_delay.is_zero()
                && match self.preempt_time {
                    None => true,
                    Some(t) => t > now,
                };
            if prio == PRIO_STOP {
                self.detail(out, "Backup received priority 0 advertisement".into());
                self.ms_down_timer = self.skew();
            } else if self.params.nopreempt
                || prio >= self.effective_priority
                || preempt_delay_holds
            {
                if self.params.version == Version::V3 {
                    let interval = u64::from(accepted.advert.interval_centis()) * 10_000;
                    if interval != self.master_adver_int {
                        self.detail(
                            out,
                            format!(
                                "advertisement interval updated from {}ms to {}ms by master",
                                self.master_adver_int / 1000,
                                interval / 1000
                            ),
                        );
                        self.master_adver_int = interval;
                    }
                }
                self.ms_down_timer = self.master_down_interval();
                self.master_addr = Some(accepted.src);
                self.master_priority = prio;
                if !self.params.preempt_delay.is_zero() {
                    if prio >= self.effective_priority {
                        if self.preempt_time.take().is_some() {
                            self.detail(out, "stop preempt delay".into());
                        }
                    } else if self.preempt_time.is_none() {
                        let d = self.params.preempt_delay;
                        self.detail(
                            out,
                            format!(
                                "start preempt delay ({}.{:06})",
                                d.as_secs(),
                                d.subsec_micros()
                            ),
                        );
                        self.preempt_time = Some(now + d);
                    }
                }
                self.want = State::Backup;
            } else {
                self.log(
                    out,
                    format!(
                        "received lower priority ({prio}) advert from {} - discarding",
                        accepted.src
                    ),
                );
                ignore = true;
                self.master_addr = Some(accepted.src);
            }
        }
        if ignore {
            // The down timer keeps running: what is left of it becomes the timer.
            let left = self.sands.map_or(0, |s| micros(s.saturating_sub(now)));
            self.ms_down_timer = left;
        }
    }

    /// `vrrp_state_master_rx`; true when the instance must leave MASTER.
    fn master_rx(&mut self, rx: &Received<'_>, out: &mut Vec<Action>) -> bool {
        let Some(accepted) = self.check(rx, true, out) else {
            return false;
        };
        let prio = accepted.advert.priority;
        let ours = self.effective_priority;
        let cmp = addr_cmp(accepted.src, self.params.source);
        if prio == PRIO_STOP {
            out.push(Action::Send { priority: ours });
            self.detail(out, "Master received priority 0 message".into());
            return false;
        }
        if prio == ours {
            if cmp == std::cmp::Ordering::Equal {
                self.log(
                    out,
                    "WARNING - equal priority advert received from remote host with our IP address."
                        .into(),
                );
            } else if ours == PRIO_OWNER {
                self.log(out, "CONFIGURATION ERROR: local instance and a remote instance are both configured as address owner, please fix - reducing local priority".into());
                self.effective_priority = PRIO_OWNER - 1;
                self.params.base_priority = PRIO_OWNER - 1;
                self.total_priority = i32::from(PRIO_OWNER - 1);
            }
        }
        let ours = self.effective_priority;
        if prio < ours || (prio == ours && cmp == std::cmp::Ordering::Less) {
            self.log(
                out,
                format!(
                    "Received advert from {} with lower priority {prio}, ours {ours}, forcing new election",
                    accepted.src
                ),
            );
            if let Some(seq) = accepted.ah_seq {
                self.log(out, "IPSEC-AH : Syncing seq_num - Increment seq".into());
                self.ah_counter.seq = seq.wrapping_add(1);
                self.ah_counter.cycle = false;
            }
            out.push(Action::Send { priority: ours });
            if self.params.garp_lower_prio_repeat > 0 {
                self.link_update(self.params.garp_lower_prio_repeat, out);
            }
            out.push(Action::NotifyMasterRxLowerPri);
            return false;
        }
        if prio > ours || (prio == ours && cmp == std::cmp::Ordering::Greater) {
            if prio > ours {
                self.log(
                    out,
                    format!(
                        "Master received advert from {} with higher priority {prio}, ours {ours}",
                        accepted.src
                    ),
                );
            } else {
                self.log(
                    out,
                    format!(
                        "Master received advert from {} with same priority {prio} but higher IP address than ours",
                        accepted.src
                    ),
                );
            }
            if accepted.ah_seq.is_some() {
                self.ah_counter.cycle = false;
            }
            if self.params.version == Version::V3 {
                self.master_adver_int = u64::from(accepted.advert.interval_centis()) * 10_000;
            }
            self.ms_down_timer = self.master_down_interval();
            self.master_priority = prio;
            self.master_addr = Some(accepted.src);
            self.want = State::Backup;
            return true;
        }
        false
    }

    /// `vrrp_state_leave_master`.
    fn leave_master(&mut self, send_stop: bool, now: Duration, out: &mut Vec<Action>) {
        match self.want {
            State::Backup => {
                self.log(out, "Entering BACKUP STATE".into());
                self.preempt_time = None;
            }
            State::Fault => {
                self.log(out, "Entering FAULT STATE".into());
                out.push(Action::Send {
                    priority: PRIO_STOP,
                });
            }
            _ => return,
        }
        self.restore_interface(send_stop, out);
        self.state = self.want;
        out.push(Action::Notify(self.state, self.effective_priority));
        self.ms_down_timer = self.master_down_interval();
        self.garp_delay_at = None;
        self.garp_refresh_at = None;
        self.set_sands(now);
    }

    /// `vrrp_restore_interface`.
    fn restore_interface(&mut self, send_stop: bool, out: &mut Vec<Action>) {
        if send_stop {
            out.push(Action::Send {
                priority: PRIO_STOP,
            });
            self.detail(out, "sent 0 priority".into());
        }
        if self.vip_set {
            self.vip_lines(out, "remov");
            out.push(Action::RemoveAddresses);
            self.vip_set = false;
        }
    }

    // --- tracking -------------------------------------------------------------------

    fn tracker(
        &mut self,
        id: TrackerId,
        state: TrackerState,
        now: Duration,
        out: &mut Vec<Action>,
    ) {
        let tracked: Vec<Tracked> = self
            .params
            .tracked
            .iter()
            .filter(|t| t.id == id)
            .cloned()
            .collect();
        if tracked.is_empty() {
            return;
        }
        let before = self.tracker_states.insert(id, state);
        if before == Some(state) {
            return;
        }
        for t in &tracked {
            let was = t.faults(before);
            let is = t.faults(Some(state));
            // A tracked file's detail lines (`process_update_vrrp_track_file_status()`),
            // not for the first reading (keepalived's is at start-up, before any instance
            // runs).
            let file_detail = t.kind == TrackedKind::File
                && self.params.log_detail
                && before.is_some()
                && self.state != State::Init;
            if file_detail && is && !was {
                self.log_colon(out, format!("tracked file {} now FAULT state", t.name));
            }
            if t.weight != 0 && self.params.base_priority != PRIO_OWNER {
                self.total_priority += t.contribution(Some(state)) - t.contribution(before);
                if t.kind == TrackedKind::File && was && !is {
                    // Leaving FAULT sets the priority without the "Changing" line.
                    self.effective_priority =
                        self.total_priority.clamp(1, i32::from(PRIO_OWNER) - 1) as u8;
                } else if !is {
                    self.set_effective_priority(out);
                }
            }
            if file_detail && was && !is {
                self.log_colon(out, format!("tracked file {} leaving FAULT state", t.name));
                if t.contribution(Some(state)) != 0 {
                    self.log(
                        out,
                        format!("Setting effective priority to {}", self.effective_priority),
                    );
                }
            }
            // keepalived's `process_script_update_priority()` for a weight-0 script's
            // first result: the instance leaves its silent start-up FAULT when the last
            // such script has reported.
            let first_script_result =
                t.kind == TrackedKind::Script && t.weight == 0 && before.is_none();
            let leaving_init = if first_script_result {
                self.scripts_init = self.scripts_init.saturating_sub(1);
                self.scripts_init == 0
            } else {
                false
            };
            if is && !was {
                let silent_fault = self.state == State::Fault && self.faults == 0;
                self.down_instance(now, out);
                if silent_fault && self.group.is_none() {
                    // `vrrp_state_leave_fault()` notifies even when the state stays FAULT
                    // (measured: `INSTANCE VI_INIT_FAIL FAULT 100` with no log line).
                    out.push(Action::Notify(State::Fault, self.effective_priority));
                }
            } else if was && !is {
                self.try_up_instance(now, out);
            } else if leaving_init && !is {
                self.leave_script_init(now, out);
            }
        }
    }

    /// `vrrp_set_effective_priority`.
    fn set_effective_priority(&mut self, out: &mut Vec<Action>) {
        if self.params.base_priority == PRIO_OWNER {
            return;
        }
        let new = self.total_priority.clamp(1, i32::from(PRIO_OWNER) - 1) as u8;
        if new == self.effective_priority {
            return;
        }
        self.log(
            out,
            format!(
                "Changing effective priority from {} to {new}",
                self.effective_priority
            ),
        );
        self.effective_priority = new;
        let old = self.ms_down_timer;
        self.ms_down_timer = self.master_down_interval();
        if self.state == State::Backup {
            if let Some(s) = self.sands {
                self.sands = Some(if old < self.ms_down_timer {
                    s + Duration::from_micros(self.ms_down_timer - old)
                } else {
                    s.saturating_sub(Duration::from_micros(old - self.ms_down_timer))
                });
            }
        }
    }

    /// `down_instance`.
    fn down_instance(&mut self, now: Duration, out: &mut Vec<Action>) {
        self.faults += 1;
        if self.faults == 1 || self.state == State::Init {
            self.want = State::Fault;
            match self.state {
                State::Master => self.leave_master(true, now, out),
                State::Init | State::Stopped => {}
                _ => self.leave_fault(now, out),
            }
        }
    }

    /// `try_up_instance`.
    fn try_up_instance(&mut self, now: Duration, out: &mut Vec<Action>) {
        self.faults = self.faults.saturating_sub(1);
        if self.faults > 0 {
            return;
        }
        if self.scripts_init > 0 {
            self.want = State::Backup;
            return;
        }
        self.come_up(now, out);
    }

    /// `try_up_instance(vrrp, true)`: the last weight-0 script has reported success and
    /// nothing else holds the instance down: it leaves the FAULT it started in
    /// (measured: `(VI_INIT_OK) Entering BACKUP STATE` right after
    /// `VRRP_Script(chk_slow_ok) succeeded`).
    fn leave_script_init(&mut self, now: Duration, out: &mut Vec<Action>) {
        // Only from that start-up FAULT: a script a reload adds does not hold a running
        // instance (keepalived's `SCRIPT_INIT_STATE_INIT_RELOAD`).
        if self.faults > 0 || self.state != State::Fault {
            return;
        }
        self.come_up(now, out);
    }

    /// The rest of `try_up_instance()`, once nothing holds the instance down.
    fn come_up(&mut self, now: Duration, out: &mut Vec<Action>) {
        if !(self.want == State::Master && self.params.base_priority == PRIO_OWNER) {
            self.want = State::Backup;
        }
        self.master_adver_int = self.params_interval();
        self.ms_down_timer = if self.want == State::Master {
            self.master_adver_int + self.skew()
        } else {
            self.master_down_interval()
        };
        if matches!(self.state, State::Init | State::Stopped) {
            return;
        }
        if let Some(view) = self.group {
            if view.other_member_faulted {
                return;
            }
            // "If the sync group can't go to master, we must go to backup state", for
            // the leaving only.
            let want = self.want;
            if want == State::Master && !view.may_become_master {
                self.want = State::Backup;
            }
            self.leave_fault(now, out);
            self.want = want;
            return;
        }
        self.leave_fault(now, out);
    }

    /// `vrrp_state_leave_fault`.
    fn leave_fault(&mut self, now: Duration, out: &mut Vec<Action>) {
        if self.want == State::Master {
            self.goto_master(now, out);
        } else {
            if self.state != self.want {
                let word = if self.want == State::Backup {
                    "BACKUP"
                } else {
                    "FAULT"
                };
                self.log(out, format!("Entering {word} STATE"));
            }
            if self.want == State::Fault && self.state == State::Master {
                out.push(Action::Send {
                    priority: PRIO_STOP,
                });
                self.restore_interface(false, out);
            }
            let changed = self.state != self.want;
            self.state = self.want;
            if changed {
                out.push(Action::Notify(self.state, self.effective_priority));
            }
            if self.state == State::Backup {
                self.preempt_time = None;
            }
        }
        self.master_adver_int = self.params_interval();
        self.ms_down_timer = self.master_down_interval();
        self.set_sands(now);
    }
}

/// The source address of a packet, if it can be read (for `skip_check_adv_addr`).
fn packet_source(rx: &Received<'_>, expected: &Expected) -> Option<IpAddr> {
    match expected.family {
        crate::codec::Family::V4 => {
            let b = rx.bytes;
            (b.len() >= 20).then(|| IpAddr::from([b[12], b[13], b[14], b[15]]))
        }
        crate::codec::Family::V6 => rx.v6_addrs.map(|(s, _)| s),
    }
}

/// keepalived's `vrrp_saddr_cmp`: the received source against ours, as big-endian
/// numbers (`inet_inaddrcmp` compares in host order after `ntohl`).
fn addr_cmp(theirs: IpAddr, ours: IpAddr) -> std::cmp::Ordering {
    match (theirs, ours) {
        (IpAddr::V4(a), IpAddr::V4(b)) => u32::from(a).cmp(&u32::from(b)),
        (IpAddr::V6(a), IpAddr::V6(b)) => u128::from(a).cmp(&u128::from(b)),
        _ => std::cmp::Ordering::Equal,
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}
