//! The thin runtime around the state machines: one loop that waits on one queue of
//! [`Input`]s (packets, link changes, tracker results, stop/reload) with a timeout at the
//! earliest machine deadline, feeds each input to the instances it concerns, and carries
//! out their [`Action`]s through a [`Platform`].
//!
//! Threads, not async: the engine has one socket per instance, a netlink watch and a few
//! tracker threads; a blocking loop with `recv_timeout` keeps the timing exact and the
//! code plain.

use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use keepalived_conf::model::KeepalivedConfig;

use crate::ah;
use crate::codec::{self, ChecksumMode, Family};
use crate::dump::{self, Counters, DumpKind, WallTime};
use crate::error::VrrpError;
use crate::ipv4;
use crate::log::Logger;
use crate::machine::{Action, Event, Instance, State};
use crate::plan::{self, InstancePlan, PlanOptions};
use crate::platform::{AddressSpec, ChannelId, Input, InterfaceInfo, Platform, RxPacket};
use crate::rx::Received;
use crate::sync_group::{Node, NodeAction};
use crate::track::{TrackerId, TrackerKind, TrackerState, TrackerTable};

/// Something told of state changes (the notify scripts, FIFO and e-mail).
pub trait Notifications {
    /// Instance `name` entered `state` with `priority`.
    fn instance(&mut self, name: &str, state: State, priority: u8);
    /// Instance `name`, master, received a lower-priority advert.
    fn master_rx_lower_pri(&mut self, name: &str, priority: u8);
    /// Sync group `name` entered `state`.
    fn group(&mut self, name: &str, state: State);
    /// Shut-down begins, before the instances' `STOP` (keepalived terminates its scripts
    /// first).
    fn stopping(&mut self) {}
    /// A reload to `config` can no longer fail: called before the deleted instances
    /// notify.
    fn reloading(&mut self, _config: &KeepalivedConfig) {}
    /// The reload to `config` is done.
    fn reloaded(&mut self, _config: &KeepalivedConfig) {}
}

impl Notifications for crate::notify::Notifier {
    fn instance(&mut self, name: &str, state: State, priority: u8) {
        use crate::notify::NotifyState;
        let state = match state {
            State::Master => NotifyState::Master,
            State::Backup => NotifyState::Backup,
            State::Fault => NotifyState::Fault,
            State::Stopped => NotifyState::Stop,
            State::Init => return,
        };
        self.instance_state(name, state, priority);
    }

    fn master_rx_lower_pri(&mut self, name: &str, priority: u8) {
        crate::notify::Notifier::master_rx_lower_pri(self, name, priority);
    }

    fn group(&mut self, name: &str, state: State) {
        use crate::notify::NotifyState;
        let state = match state {
            State::Master => NotifyState::Master,
            State::Backup => NotifyState::Backup,
            State::Fault => NotifyState::Fault,
            State::Stopped => NotifyState::Stop,
            State::Init => return,
        };
        self.group_state(name, state);
    }

    fn stopping(&mut self) {
        crate::notify::Notifier::stopping(self);
    }

    fn reloading(&mut self, config: &KeepalivedConfig) {
        crate::notify::Notifier::reloading(self, config);
    }

    fn reloaded(&mut self, config: &KeepalivedConfig) {
        crate::notify::Notifier::reloaded(self, config);
    }
}

/// No notifications.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoNotifications;

impl Notifications for NoNotifications {
    fn instance(&mut self, _: &str, _: State, _: u8) {}
    fn master_rx_lower_pri(&mut self, _: &str, _: u8) {}
    fn group(&mut self, _: &str, _: State) {}
}

/// A running instance: what the runtime needs to carry out its machine's actions (the
/// machines are in the runtime's [`Node`], at the same index).
#[derive(Debug)]
struct Running {
    plan: InstancePlan,
    channel: ChannelId,
    ip_id: u16,
    /// Received packets judged and refused, per keepalived stats name.
    rejected: BTreeMap<&'static str, u64>,
    /// keepalived's counters, for the SIGUSR2 / SIGRTMIN+2 dumps.
    counters: Counters,
    /// The state last seen, and when it was entered (the dumps' `Last transition`).
    last_state: State,
    last_transition: WallTime,
}

impl Running {
    fn new(plan: InstancePlan, channel: ChannelId) -> Running {
        Running {
            plan,
            channel,
            ip_id: 0,
            rejected: BTreeMap::new(),
            counters: Counters::default(),
            last_state: State::Init,
            last_transition: WallTime::from_system(std::time::SystemTime::now()),
        }
    }
}

/// The VRRP runtime.
pub struct Runtime<P: Platform> {
    platform: P,
    node: Node,
    running: Vec<Running>,
    table: TrackerTable,
    inbound: Receiver<Input>,
    sender: Sender<Input>,
    origin: Instant,
    logger: Logger,
    notifications: Box<dyn Notifications>,
    /// Interface states last seen (for the tracker ids of interfaces).
    links: BTreeMap<String, bool>,
    /// The last state each tracker reported (carried over a reload, by kind).
    tracker_states: BTreeMap<TrackerId, TrackerState>,
    /// Inputs taken off the queue during a reload, handled first by the next run.
    pending: VecDeque<Input>,
    /// Whether the instances have been started (a run after a reload goes on).
    started: bool,
    /// The configuration running (what the dumps show of scripts and addresses).
    config: KeepalivedConfig,
}

/// Why [`Runtime::run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    /// [`Input::Stop`] (or every sender gone): every instance has stopped.
    Stopped,
    /// [`Input::Reload`]: the masters have advertised once (keepalived's
    /// `send_reload_advert_thread`); the caller reads the configuration again, calls
    /// [`Runtime::reload`] and runs again.
    ReloadRequested,
}

/// keepalived's `vrrp_exist()`: an instance of the new configuration continues one of
/// the old if it has the same VRID, family and interface, and is unicast in both with
/// the same source, or multicast in both.
fn continues(old: &InstancePlan, new: &InstancePlan) -> bool {
    old.params.vrid == new.params.vrid
        && old.channel.family == new.channel.family
        && old.channel.interface == new.channel.interface
        && old.channel.multicast_group.is_none() == new.channel.multicast_group.is_none()
        && (old.channel.multicast_group.is_some() || old.channel.source == new.channel.source)
}

/// The interfaces tracked in `table`, as the platform sees them now.
fn tracked_interfaces<P: Platform>(
    platform: &mut P,
    table: &TrackerTable,
    logger: &Logger,
) -> (BTreeMap<String, InterfaceInfo>, BTreeMap<String, bool>) {
    let mut interfaces = BTreeMap::new();
    let mut links = BTreeMap::new();
    for kind in &table.trackers {
        if let TrackerKind::Interface(name) = kind {
            match platform.interface(name) {
                Ok(info) => {
                    links.insert(name.clone(), info.up);
                    interfaces.insert(name.clone(), info);
                }
                Err(e) => logger.info(&format!("WARNING - interface {name}: {e}")),
            }
        }
    }
    (interfaces, links)
}

impl<P: Platform> std::fmt::Debug for Runtime<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("instances", &self.running.len())
            .finish_non_exhaustive()
    }
}

impl<P: Platform> Runtime<P> {
    /// Plans every instance of `config` on `platform` and opens their channels. The
    /// returned runtime has not started: call [`Runtime::run`].
    pub fn new(
        mut platform: P,
        config: &KeepalivedConfig,
        options: PlanOptions,
        logger: Logger,
        notifications: Box<dyn Notifications>,
    ) -> Result<Runtime<P>, VrrpError> {
        let (sender, inbound) = mpsc::channel();
        let table = TrackerTable::from_config(config);
        let (interfaces, links) = tracked_interfaces(&mut platform, &table, &logger);
        let node_plan = plan::plan(config, &table, &interfaces, options)?;
        for line in &node_plan.warnings {
            logger.info(line);
        }
        let mut running = Vec::new();
        let mut machines = Vec::new();
        for plan in node_plan.instances {
            let channel = platform.open_channel(&plan.channel, sender.clone())?;
            machines.push(Instance::new(plan.params.clone()));
            running.push(Running::new(plan, channel));
        }
        platform.watch_links(sender.clone())?;
        Ok(Runtime {
            platform,
            node: Node::new(machines, node_plan.groups),
            running,
            table,
            inbound,
            sender,
            origin: Instant::now(),
            logger,
            notifications,
            links,
            tracker_states: BTreeMap::new(),
            pending: VecDeque::new(),
            started: false,
            config: config.clone(),
        })
    }

    /// Replaces who is told of state changes (a [`crate::notify::Notifier`] needs
    /// [`Runtime::sender`] for its log lines, so it comes after [`Runtime::new`]).
    pub fn set_notifications(&mut self, notifications: Box<dyn Notifications>) {
        self.notifications = notifications;
    }

    /// Tracker states known before the instances start (the tracking runner's first
    /// readings of files and processes, [`crate::tracker::TrackerRunner::initial_states`]):
    /// keepalived reads them before any instance starts, so an instance they hold down
    /// starts in FAULT, with the line naming them. Ignored once running.
    pub fn preset_trackers(&mut self, states: &[(TrackerId, TrackerState)]) {
        if self.started {
            return;
        }
        for (id, state) in states {
            self.tracker_states.insert(*id, *state);
            for i in 0..self.running.len() {
                let now = self.now();
                let actions = self.node.handle(i, Event::Tracker(*id, *state), now);
                self.act_all(actions);
            }
        }
    }

    /// A handle to push inputs (signals, trackers) into the loop.
    pub fn sender(&self) -> Sender<Input> {
        self.sender.clone()
    }

    /// The tracker table the runtime uses (the tracking runner reports by its ids).
    pub fn table(&self) -> &TrackerTable {
        &self.table
    }

    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    /// Runs until [`Input::Stop`] (every instance stopped) or [`Input::Reload`].
    pub fn run(&mut self) -> Result<RunEnd, VrrpError> {
        if !self.started {
            self.started = true;
            // Interfaces first: an instance whose interface is down starts in FAULT.
            let links: Vec<(String, bool)> = self.links.clone().into_iter().collect();
            for (name, up) in links {
                self.link(&name, up, false);
            }
            let now = self.now();
            let actions = self.node.start(now);
            self.act_all(actions);
        }
        loop {
            let input = match self.pending.pop_front() {
                Some(input) => Ok(input),
                None => self.next_input(),
            };
            match input {
                Err(RecvTimeoutError::Timeout) => {
                    let now = self.now();
                    for i in 0..self.running.len() {
                        if self.node.instances()[i]
                            .next_deadline()
                            .is_some_and(|d| d <= now)
                        {
                            self.feed(i, Event::Timer);
                        }
                    }
                }
                Err(RecvTimeoutError::Disconnected) | Ok(Input::Stop) => break,
                Ok(Input::Packet(channel, packet)) => self.packet(channel, &packet),
                Ok(Input::Link { interface, up }) => self.link(&interface, up, true),
                Ok(Input::Tracker(id, state)) => {
                    self.tracker_states.insert(id, state);
                    for i in 0..self.running.len() {
                        self.feed(i, Event::Tracker(id, state));
                    }
                }
                Ok(Input::Log(line)) => self.logger.info(&line),
                Ok(Input::Dump(kind)) => self.dump(kind),
                Ok(Input::Status(reply)) => {
                    // The status thread may have given up waiting: nothing to do then.
                    let _ = reply.0.send(self.snapshot());
                }
                Ok(Input::Reload) => {
                    // keepalived's `sigreload_vrrp`: every master advertises once first, so
                    // that the backups' timers do not run out during the reload.
                    for i in 0..self.running.len() {
                        let m = &self.node.instances()[i];
                        if m.state() == State::Master {
                            let priority = m.effective_priority();
                            self.act(i, Action::Send { priority });
                        }
                    }
                    return Ok(RunEnd::ReloadRequested);
                }
            }
        }
        self.notifications.stopping();
        let now = self.now();
        let actions = self.node.stop(now);
        self.act_all(actions);
        Ok(RunEnd::Stopped)
    }

    /// The next input, or a timeout at the earliest machine deadline.
    fn next_input(&mut self) -> Result<Input, RecvTimeoutError> {
        let now = self.now();
        match self.node.next_deadline() {
            Some(d) if d <= now => Err(RecvTimeoutError::Timeout),
            Some(d) => self.inbound.recv_timeout(d - now),
            None => self
                .inbound
                .recv()
                .map_err(|_| RecvTimeoutError::Disconnected),
        }
    }

    /// Applies a new configuration as keepalived 2.2.7's reload does: an instance that
    /// continues an old one ([`continues`]: same VRID, family, interface, unicast source)
    /// keeps its state, AH counter and counters (a master keeps its addresses, drops
    /// those no longer configured, adds the new ones and advertises at once; a backup
    /// restarts its master down timer); an old instance with no continuation is deleted
    /// (a master sends priority 0 and releases its addresses); a new one starts. Tracker
    /// states carry over by what they track; sync groups take the state their members
    /// have ([`Node::resumed`]). The notifications are told ([`Notifications::reloading`]
    /// before the deleted instances notify, [`Notifications::reloaded`] before the others
    /// do). The caller restarts the tracking runner afterwards (with
    /// [`crate::tracker::spawn_reloaded`]).
    ///
    /// Call it with the old tracking runner already stopped. On error (the new
    /// configuration cannot be planned or a channel cannot be opened) nothing has
    /// changed: the old configuration keeps running.
    pub fn reload(
        &mut self,
        config: &KeepalivedConfig,
        options: PlanOptions,
    ) -> Result<(), VrrpError> {
        let table = TrackerTable::from_config(config);
        let (interfaces, links) = tracked_interfaces(&mut self.platform, &table, &self.logger);
        let node_plan = plan::plan(config, &table, &interfaces, options)?;
        let plans = node_plan.instances;

        // Channels first: the only step that can fail once planning succeeded. A
        // continuing instance with the same channel keeps its socket.
        let mut continued: Vec<Option<usize>> = Vec::new();
        let mut taken = vec![false; self.running.len()];
        for p in &plans {
            let old =
                (0..self.running.len()).find(|&k| !taken[k] && continues(&self.running[k].plan, p));
            if let Some(k) = old {
                taken[k] = true;
            }
            continued.push(old);
        }
        let mut channels = Vec::new();
        for (p, old) in plans.iter().zip(&continued) {
            let kept = old
                .filter(|&k| self.running[k].plan.channel == p.channel)
                .map(|k| self.running[k].channel);
            let channel = match kept {
                Some(c) => Ok(c),
                None => self.platform.open_channel(&p.channel, self.sender.clone()),
            };
            match channel {
                Ok(c) => channels.push((c, kept.is_none())),
                Err(e) => {
                    for (c, opened) in channels {
                        if opened {
                            self.platform.close_channel(c);
                        }
                    }
                    return Err(e);
                }
            }
        }
        for line in &node_plan.warnings {
            self.logger.info(line);
        }

        // The old runner's last reports, not yet handled, are the latest states.
        while let Ok(input) = self.inbound.try_recv() {
            match input {
                Input::Tracker(id, state) => {
                    self.tracker_states.insert(id, state);
                }
                other => self.pending.push_back(other),
            }
        }
        let carried: Vec<(TrackerId, TrackerState)> = self
            .tracker_states
            .iter()
            .filter_map(|(id, state)| {
                let kind = self.table.get(*id)?;
                // Interfaces are read again below, not carried.
                if matches!(kind, TrackerKind::Interface(_)) {
                    return None;
                }
                Some((table.id(kind)?, *state))
            })
            .collect();
        let now = self.now();

        // The new machines, with the carried tracker states (which logs "Changing
        // effective priority", as keepalived does on every reload).
        let mut machines = Vec::new();
        let mut first_lines = Vec::new();
        for p in &plans {
            let mut m = Instance::new(p.params.clone());
            let mut first = Vec::new();
            for (id, state) in &carried {
                first.extend(m.handle(Event::Tracker(*id, *state), now));
            }
            for (name, up) in &links {
                if let Some(id) = table.id(&TrackerKind::Interface(name.clone())) {
                    let state = if *up {
                        TrackerState::Ok
                    } else {
                        TrackerState::Failed
                    };
                    first.extend(m.handle(Event::Tracker(id, state), now));
                }
            }
            first_lines.push(
                first
                    .into_iter()
                    .filter_map(|a| match a {
                        Action::Log(line) => Some(line),
                        _ => None,
                    })
                    .collect::<Vec<_>>(),
            );
            machines.push(m);
        }
        // keepalived's `initialise_tracking_priorities()` again: what holds each instance
        // in FAULT (whatever its old state; measured on 2.2.7's reload), then by instance
        // its scripts' lines and its priority.
        let (global, per_instance) = crate::sync_group::fault_reason_lines(&machines);
        for line in global {
            self.logger.info(&line);
        }
        for (scripts, first) in per_instance.into_iter().zip(first_lines) {
            for line in scripts.iter().chain(&first) {
                self.logger.info(line);
            }
        }

        self.notifications.reloading(config);
        // Deleted instances, while they are still in the node.
        let deleted: Vec<usize> = (0..taken.len()).filter(|&k| !taken[k]).collect();
        for k in deleted {
            let actions = self
                .node
                .instance_mut(k)
                .map(Instance::delete)
                .unwrap_or_default();
            for a in actions {
                self.act(k, a);
            }
            self.platform.close_channel(self.running[k].channel);
        }
        // Addresses a continuing master no longer has.
        for (p, old) in plans.iter().zip(&continued) {
            let Some(k) = *old else { continue };
            let o = &self.running[k];
            if !self.node.instances()[k].addresses_set() {
                continue;
            }
            let gone: Vec<AddressSpec> = o
                .plan
                .addresses
                .iter()
                // keepalived's `address_exist()`: the same address, length and interface.
                .filter(|a| {
                    !p.addresses.iter().any(|b| {
                        (b.addr, b.prefix_len, &b.interface) == (a.addr, a.prefix_len, &a.interface)
                    })
                })
                .cloned()
                .collect();
            for a in gone {
                self.logger.info(&format!(
                    "({}) ip address {}/{} dev {}, no longer exist",
                    o.plan.params.name, a.addr, a.prefix_len, a.interface
                ));
                if let Err(e) = self.platform.remove_address(&a) {
                    self.logger.info(&format!(
                        "({}) cannot remove {}/{} from {}: {e}",
                        o.plan.params.name, a.addr, a.prefix_len, a.interface
                    ));
                }
            }
        }
        // Old channels a continuing instance no longer uses.
        for (old, (channel, _)) in continued.iter().zip(&channels) {
            if let Some(k) = *old {
                if self.running[k].channel != *channel {
                    self.platform.close_channel(self.running[k].channel);
                }
            }
        }

        let old_running = std::mem::take(&mut self.running);
        let mut starts = Vec::new();
        let mut resumed = Vec::new();
        for ((p, mut machine), (old, (channel, _))) in plans
            .into_iter()
            .zip(machines)
            .zip(continued.into_iter().zip(channels))
        {
            let mut r = Running::new(p, channel);
            let actions = match old {
                Some(k) => {
                    let o = &old_running[k];
                    let added = r
                        .plan
                        .addresses
                        .iter()
                        .any(|a| !o.plan.addresses.contains(a));
                    r.ip_id = o.ip_id;
                    r.rejected = o.rejected.clone();
                    r.counters = o.counters;
                    r.last_state = o.last_state;
                    r.last_transition = o.last_transition;
                    machine.resume(&self.node.instances()[k], added, now)
                }
                None => machine.start_added_on_reload(now),
            };
            starts.push((self.running.len(), actions));
            resumed.push(machine);
            self.running.push(r);
        }
        self.node = Node::resumed(resumed, node_plan.groups);
        self.config = config.clone();
        self.table = table;
        self.links.extend(links);
        self.tracker_states = carried.into_iter().collect();
        // The continuing and new instances notify with the new configuration's scripts.
        self.notifications.reloaded(config);
        for (i, actions) in starts {
            for a in actions {
                self.act(i, a);
            }
        }
        // keepalived's parent writes it when its VRRP child says it has reloaded.
        self.logger.info("Reload complete");
        Ok(())
    }

    fn link(&mut self, interface: &str, up: bool, report: bool) {
        let before = self.links.insert(interface.to_owned(), up);
        if report && before == Some(up) {
            return;
        }
        if report {
            self.logger.info(&format!(
                "Netlink reports {interface} {}",
                if up { "up" } else { "down" }
            ));
        }
        if let Some(id) = self.table.id(&TrackerKind::Interface(interface.to_owned())) {
            let state = if up {
                TrackerState::Ok
            } else {
                TrackerState::Failed
            };
            for i in 0..self.running.len() {
                self.feed(i, Event::Tracker(id, state));
            }
        }
    }

    fn packet(&mut self, channel: ChannelId, packet: &RxPacket) {
        let Some(vrid) = packet_vrid(packet, self.family_of(channel)) else {
            return;
        };
        let rx = Received {
            bytes: &packet.bytes,
            v6_addrs: packet.v6_addrs,
            v6_hop_limit: packet.v6_hop_limit,
            v6_multicast: packet.v6_multicast,
        };
        let priority = packet_priority(packet, self.family_of(channel));
        for i in 0..self.running.len() {
            if self.running[i].channel == channel && self.running[i].plan.params.vrid == vrid {
                let counters = &mut self.running[i].counters;
                counters.advert_rcvd += 1;
                if priority == Some(0) {
                    counters.pri_zero_rcvd += 1;
                }
                self.feed(i, Event::Packet(&rx));
            }
        }
    }

    fn family_of(&self, channel: ChannelId) -> Family {
        self.running
            .iter()
            .find(|r| r.channel == channel)
            .map_or(Family::V4, |r| r.plan.channel.family)
    }

    fn feed(&mut self, i: usize, event: Event<'_>) {
        let now = self.now();
        let actions = self.node.handle(i, event, now);
        self.act_all(actions);
    }

    fn act_all(&mut self, actions: Vec<NodeAction>) {
        self.observe_states();
        for action in actions {
            match action {
                NodeAction::Instance(i, action) => self.act(i, action),
                NodeAction::Log(line) => self.logger.info(&line),
                NodeAction::GroupNotify(g, state) => {
                    if let Some(name) = self.node.group_name(g) {
                        self.notifications.group(name, state);
                    }
                }
            }
        }
    }

    fn act(&mut self, i: usize, action: Action) {
        let r = &mut self.running[i];
        match action {
            Action::Send { priority } => {
                r.counters.advert_sent += 1;
                if priority == 0 {
                    r.counters.pri_zero_sent += 1;
                }
                let machine = self.node.instance_mut(i);
                let unicast = r.plan.channel.multicast_group.is_none();
                let link_up = self
                    .links
                    .get(&r.plan.params.interface)
                    .copied()
                    .unwrap_or(true);
                for (dst, e) in send_advert(&mut self.platform, r, machine, priority) {
                    // keepalived keeps quiet about a priority-0 advert that cannot go out
                    // because the interface is down.
                    if priority == 0
                        && e.raw_os_error() == Some(nix::errno::Errno::ENETUNREACH as i32)
                        && !link_up
                    {
                        continue;
                    }
                    let peer = unicast.then_some(dst);
                    self.logger
                        .info(&send_error_line(&r.plan.params.name, peer, &e));
                }
            }
            Action::AddAddresses => {
                for a in &r.plan.addresses {
                    if let Err(e) = self.platform.add_address(a) {
                        self.logger.info(&format!(
                            "({}) cannot add {}/{} on {}: {e}",
                            r.plan.params.name, a.addr, a.prefix_len, a.interface
                        ));
                    }
                }
            }
            Action::RemoveAddresses => {
                for a in &r.plan.addresses {
                    if let Err(e) = self.platform.remove_address(a) {
                        self.logger.info(&format!(
                            "({}) cannot remove {}/{} from {}: {e}",
                            r.plan.params.name, a.addr, a.prefix_len, a.interface
                        ));
                    }
                }
            }
            Action::Announce(addr) => {
                let iface = r
                    .plan
                    .addresses
                    .iter()
                    .find(|a| a.addr == addr)
                    .map_or(r.plan.params.interface.clone(), |a| a.interface.clone());
                let detail = r.plan.params.log_detail;
                match self.platform.announce(&iface, addr) {
                    Ok(()) if detail => self.logger.info(&match addr {
                        IpAddr::V4(_) => format!("Sending gratuitous ARP on {iface} for {addr}"),
                        IpAddr::V6(_) => {
                            format!("Sending unsolicited Neighbour Advert on {iface} for {addr}")
                        }
                    }),
                    Ok(()) => {}
                    Err(e) => self.logger.info(&format!(
                        "Error ({e}) sending gratuitous ARP on {iface} for {addr}"
                    )),
                }
            }
            Action::Notify(state, priority) => {
                self.notifications
                    .instance(&r.plan.params.name, state, priority);
            }
            Action::NotifyMasterRxLowerPri => {
                let prio = self.node.instances()[i].effective_priority();
                self.notifications
                    .master_rx_lower_pri(&r.plan.params.name, prio);
            }
            Action::Log(line) => self.logger.info(&line),
            Action::Reject(counter) => {
                r.counters.count_rejection(counter);
                *r.rejected.entry(counter).or_insert(0) += 1;
            }
        }
    }

    /// Writes one of keepalived's dumps; a failure is logged, as keepalived's
    /// `fopen_safe` failure is.
    fn dump(&mut self, kind: DumpKind) {
        let snapshot = self.snapshot();
        // keepalived's `vrrp_print_json` writes nothing without instances.
        if kind == DumpKind::Json && snapshot.instances.is_empty() {
            return;
        }
        let text = match kind {
            DumpKind::Data => dump::render_data(&snapshot),
            DumpKind::Stats => dump::render_stats(&snapshot),
            DumpKind::Json => dump::render_json(&snapshot),
        };
        let path = kind.path();
        if let Err(e) = dump::write_dump(path, &text) {
            // keepalived's `Can't open /tmp/keepalived.json (13: Permission denied)`.
            let errno = e.raw_os_error().unwrap_or(0);
            let text = nix::errno::Errno::from_raw(errno).desc();
            self.logger
                .info(&format!("Can't open {} ({errno}: {text})", path.display()));
        }
    }

    /// What the dumps show of the engine now (the platform is asked for its interfaces).
    pub fn snapshot(&mut self) -> dump::Snapshot {
        let mut interfaces = self.platform.interface_list();
        let vips: Vec<IpAddr> = self
            .running
            .iter()
            .flat_map(|r| r.plan.addresses.iter().map(|a| a.addr))
            .collect();
        for i in &mut interfaces {
            i.ipv4.retain(|a| !vips.contains(&IpAddr::V4(*a)));
            i.ipv6.retain(|a| !vips.contains(&IpAddr::V6(*a)));
            // keepalived keeps the link-local IPv6 addresses only (measured: a global
            // 2001:db8::1 and lo's ::1 are not shown; `REFERENCE.md`).
            i.ipv6.retain(|a| (a.segments()[0] & 0xffc0) == 0xfe80);
            // keepalived's per-interface GARP delays: the global intervals, on the
            // interfaces instances use.
            if self
                .running
                .iter()
                .any(|r| r.plan.params.interface == i.name)
            {
                i.garp_interval = self.config.global.vrrp_garp_interval;
                i.gna_interval = self.config.global.vrrp_gna_interval;
            }
            for r in &self.running {
                for t in &r.plan.params.tracked {
                    if matches!(t.kind, crate::machine::TrackedKind::Interface { .. })
                        && t.name == i.name
                    {
                        i.tracking.push((r.plan.params.name.clone(), t.weight));
                    }
                }
            }
        }
        let now = self.now();
        let wall_now = std::time::SystemTime::now();
        let scripts_good = |name: &str| {
            let id = self.table.id(&TrackerKind::Script(name.to_string()))?;
            match self.tracker_states.get(&id)? {
                TrackerState::Ok => Some(true),
                TrackerState::Failed => Some(false),
                TrackerState::Value(v) => Some(*v >= 0),
            }
        };
        let mut instances = Vec::new();
        for (r, m) in self.running.iter().zip(self.node.instances()) {
            let p = &r.plan.params;
            let configured = self.config.instance(&p.name);
            let auth = match configured.and_then(|c| c.authentication.as_ref()) {
                Some(keepalived_conf::model::Authentication::Pass(pw)) => {
                    dump::DumpAuth::Pass(pw.clone())
                }
                Some(keepalived_conf::model::Authentication::Ah(pw)) => {
                    dump::DumpAuth::Ah(pw.clone())
                }
                None => dump::DumpAuth::None,
            };
            let garp = configured.map(|c| c.garp).unwrap_or_default();
            // keepalived's timer is disabled in FAULT.
            let read_timeout = m
                .next_deadline()
                .filter(|_| m.state() != State::Fault)
                .map(|d| WallTime::from_system(wall_now + d.saturating_sub(now)));
            instances.push(dump::InstanceDump {
                name: p.name.clone(),
                version: match p.version {
                    codec::Version::V2 => 2,
                    codec::Version::V3 => 3,
                },
                state: m.state(),
                wantstate: m.wants(),
                last_transition: r.last_transition,
                read_timeout,
                interface: p.interface.clone(),
                source: r.plan.channel.source,
                source_configured: configured
                    .is_some_and(|c| c.unicast_src_ip.is_some() || c.mcast_src_ip.is_some()),
                multicast_group: r.plan.channel.multicast_group,
                unicast_peers: configured
                    .map(|c| {
                        c.unicast_peers
                            .iter()
                            .map(|u| (u.addr, u.min_ttl.unwrap_or(0), u.max_ttl.unwrap_or(255)))
                            .collect()
                    })
                    .unwrap_or_default(),
                check_unicast_src: self.config.global.vrrp_check_unicast_src,
                garp_delay_secs: garp.master_delay.as_secs(),
                garp_repeat: garp.master_repeat,
                garp_refresh_secs: garp.master_refresh.map_or(0, |d| d.as_secs()),
                garp_refresh_repeat: garp.master_refresh_repeat,
                garp_lower_prio_delay_secs: garp
                    .lower_prio_delay
                    .unwrap_or(garp.master_delay)
                    .as_secs(),
                garp_lower_prio_repeat: garp.lower_prio_repeat.unwrap_or(garp.master_repeat),
                vrid: p.vrid,
                base_priority: p.base_priority,
                effective_priority: m.effective_priority(),
                master_priority: if m.state() == State::Master {
                    0
                } else {
                    m.master_priority()
                },
                master_addr: m.master_addr(),
                sync_group: self
                    .config
                    .sync_groups
                    .iter()
                    .find(|g| g.instances.contains(&p.name))
                    .map(|g| g.name.clone()),
                excluded_vips: p.excluded_vips,
                track_interfaces: configured
                    .map(|c| c.track_interfaces.iter().map(|t| t.name.clone()).collect())
                    .unwrap_or_default(),
                notify_lines: configured
                    .map(|c| {
                        let n = &c.notify;
                        // keepalived's `dump_vrrp` order and words (measured: Master,
                        // Generic; the others from its source). `notify_deleted` and
                        // `notify_master_rx_lower_pri` are not shown.
                        [
                            ("Backup", &n.backup),
                            ("Master", &n.master),
                            ("Fault", &n.fault),
                            ("Stop", &n.stop),
                            ("Generic", &n.any),
                        ]
                        .into_iter()
                        .filter_map(|(kind, cmd)| {
                            let cmd = cmd.as_ref()?;
                            let user =
                                cmd.user
                                    .as_ref()
                                    .or(self.config.global.script_user.as_ref());
                            let (uid, gid) = user
                                .and_then(|u| crate::script_exec::resolve_user(u, &mut Vec::new()))
                                .unwrap_or((0, 0));
                            let text = crate::script_exec::cmd_str(&shown_command(&cmd.argv));
                            Some((kind, text, uid, gid))
                        })
                        .collect()
                    })
                    .unwrap_or_default(),
                tracked_interfaces: configured
                    .map(|c| {
                        c.track_interfaces
                            .iter()
                            .map(|t| {
                                let weight = p
                                    .tracked
                                    .iter()
                                    .find(|k| {
                                        k.name == t.name
                                            && matches!(
                                                k.kind,
                                                crate::machine::TrackedKind::Interface { .. }
                                            )
                                    })
                                    .map_or(0, |k| k.weight);
                                (t.name.clone(), weight)
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                notify_scripts: configured
                    .map(|c| {
                        let n = &c.notify;
                        // keepalived's order in `vrrp_json_data_dump`.
                        [
                            ("script_backup", &n.backup),
                            ("script_master", &n.master),
                            ("script_fault", &n.fault),
                            ("script_stop", &n.stop),
                            ("script_deleted", &n.deleted),
                            ("script", &n.any),
                            ("script_master_rx_lower_pri", &n.master_rx_lower_pri),
                        ]
                        .into_iter()
                        .filter_map(|(name, cmd)| {
                            let cmd = cmd.as_ref()?;
                            Some((name, crate::script_exec::cmd_str(&shown_command(&cmd.argv))))
                        })
                        .collect()
                    })
                    .unwrap_or_default(),
                advert_int: p.advert_int,
                master_adver_int: m.master_adver_int(),
                nopreempt: p.nopreempt,
                preempt_delay_secs: p.preempt_delay.as_secs(),
                skip_check_adv_addr: p.skip_check_adv_addr,
                auth,
                vips: r.plan.addresses.iter().map(vip_text).collect(),
                vips_set: m.addresses_set(),
                scripts: p
                    .tracked
                    .iter()
                    .filter(|t| matches!(t.kind, crate::machine::TrackedKind::Script))
                    .map(|t| (t.name.clone(), t.weight))
                    .collect(),
                fds: self.platform.channel_fds(r.channel),
                counters: r.counters,
            });
        }
        let scripts = self
            .config
            .scripts
            .iter()
            .map(|s| dump::ScriptDump {
                name: s.name.clone(),
                command: shown_command(&s.command),
                interval_secs: s.interval.as_secs(),
                timeout_secs: s.timeout.map_or(0, |t| t.as_secs()),
                weight: s.weight.get(),
                rise: s.rise,
                fall: s.fall,
                good: scripts_good(&s.name),
                tracking: instances
                    .iter()
                    .flat_map(|i| {
                        i.scripts
                            .iter()
                            .filter(|(n, _)| n == &s.name)
                            .map(|(_, w)| (i.name.clone(), *w))
                    })
                    .collect(),
            })
            .collect();
        let groups = self
            .config
            .sync_groups
            .iter()
            .map(|g| {
                let states: Vec<State> = g
                    .instances
                    .iter()
                    .filter_map(|name| instances.iter().find(|i| &i.name == name))
                    .map(|i| i.state)
                    .collect();
                let fault = states.iter().filter(|s| **s == State::Fault).count();
                let state = if fault > 0 {
                    State::Fault
                } else if !states.is_empty() && states.iter().all(|s| *s == State::Master) {
                    State::Master
                } else {
                    State::Backup
                };
                dump::GroupDump {
                    name: g.name.clone(),
                    state,
                    members: g.instances.clone(),
                    members_fault: fault,
                }
            })
            .collect();
        let cg = &self.config.global;
        let global = dump::GlobalDump {
            dynamic_interfaces: cg.dynamic_interfaces,
            mcast_group4: cg.vrrp_mcast_group4,
            mcast_group6: cg.vrrp_mcast_group6,
            garp_delay_secs: cg.garp.master_delay.as_secs(),
            garp_repeat: cg.garp.master_repeat,
            garp_refresh_secs: cg.garp.master_refresh.map_or(0, |d| d.as_secs()),
            garp_refresh_repeat: cg.garp.master_refresh_repeat,
            garp_lower_prio_delay_secs: cg
                .garp
                .lower_prio_delay
                .unwrap_or(cg.garp.master_delay)
                .as_secs(),
            garp_lower_prio_repeat: cg.garp.lower_prio_repeat.unwrap_or(cg.garp.master_repeat),
            garp_interval: cg.vrrp_garp_interval,
            gna_interval: cg.vrrp_gna_interval,
            version: match cg.vrrp_version {
                keepalived_conf::model::VrrpVersion::V2 => 2,
                keepalived_conf::model::VrrpVersion::V3 => 3,
            },
            check_unicast_src: cg.vrrp_check_unicast_src,
            skip_check_adv_addr: cg.vrrp_skip_check_adv_addr,
            strict: cg.vrrp_strict,
            script_security: cg.enable_script_security,
            script_uid_gid: cg
                .script_user
                .as_ref()
                .and_then(|u| crate::script_exec::resolve_user(u, &mut Vec::new()))
                .unwrap_or((0, 0)),
        };
        dump::Snapshot {
            global,
            groups,
            router_id: self
                .config
                .global
                .router_id
                .clone()
                .unwrap_or_else(host_name),
            instances,
            scripts,
            interfaces,
        }
    }

    /// Counts the state changes the machines have made (keepalived's `become_master`,
    /// `release_master`) and when they happened.
    fn observe_states(&mut self) {
        for (r, m) in self.running.iter_mut().zip(self.node.instances()) {
            let state = m.state();
            if state == r.last_state {
                continue;
            }
            if state == State::Master {
                r.counters.become_master += 1;
            } else if r.last_state == State::Master {
                r.counters.release_master += 1;
            }
            r.last_state = state;
            r.last_transition = WallTime::from_system(std::time::SystemTime::now());
        }
    }
}

/// keepalived's line for an advert that could not be sent (`vrrp_send_adv()`): to the
/// multicast group `(VI_1): send advert error 101 (Network is unreachable)`, to a unicast
/// `peer` `(VI_1) Cant send advert to 10.0.0.2 (Permission denied)` (the `%m` of both is
/// `strerror(errno)`). An error without an errno (an advert we cannot build) keeps the
/// multicast form with our own text in place of the number.
pub fn send_error_line(instance: &str, peer: Option<IpAddr>, error: &VrrpError) -> String {
    let errno = error.raw_os_error();
    let text = errno.map_or_else(
        || error.to_string(),
        |n| nix::errno::Errno::from_raw(n).desc().to_string(),
    );
    match (peer, errno) {
        (Some(peer), _) => format!("({instance}) Cant send advert to {peer} ({text})"),
        (None, Some(n)) => format!("({instance}): send advert error {n} ({text})"),
        (None, None) => format!("({instance}): send advert error ({text})"),
    }
}

/// Builds and sends one advert of `r` with `priority` to each destination; returns the
/// destinations it could not be sent to, with why (keepalived goes on with the next
/// unicast peer after a failure).
fn send_advert<P: Platform>(
    platform: &mut P,
    r: &mut Running,
    machine: Option<&mut Instance>,
    priority: u8,
) -> Vec<(IpAddr, VrrpError)> {
    let mut failed = Vec::new();
    let mut advert = r.plan.advert.clone();
    advert.priority = priority;
    // One sequence number per advert, whatever the number of unicast peers (keepalived).
    let seq = match (&r.plan.ah_key, machine) {
        (Some(_), Some(m)) => Some(m.next_ah_seq()),
        _ => None,
    };
    for dst in r.plan.destinations.clone() {
        if let Err(e) = send_one(platform, r, &advert, seq, dst) {
            failed.push((dst, e));
        }
    }
    failed
}

/// One advert to `dst` (AH-sealed with `seq` when the instance uses AH).
fn send_one<P: Platform>(
    platform: &mut P,
    r: &mut Running,
    advert: &codec::Advert,
    seq: Option<u32>,
    dst: IpAddr,
) -> Result<(), VrrpError> {
    let payload = codec::encode(advert, r.plan.channel.source, dst, ChecksumMode::Standard)?;
    let packet = match (r.plan.channel.source, dst) {
        (IpAddr::V4(src), IpAddr::V4(dst4)) => {
            r.ip_id = ipv4::next_id(r.ip_id);
            let fields = ipv4::Ipv4Fields::new(src, dst4, r.ip_id);
            let seal = match (&r.plan.ah_key, seq) {
                (Some(key), Some(seq)) => Some(ah::AhSeal {
                    key: key.clone(),
                    seq,
                    unicast: !dst4.is_multicast(),
                }),
                _ => None,
            };
            ipv4::build(&fields, &payload, seal.as_ref())?
        }
        _ => payload,
    };
    platform.send(r.channel, dst, &packet)
}

/// One priority-0 advert of the instance `plan` describes ("this master is giving up",
/// RFC 3768 6.4.3 / RFC 5798 6.4.3), as its running instance sends it on stopping: one
/// packet per destination (the multicast group, or each unicast peer), IPv4 packets whole
/// with their header, IPv6 payloads bare (the kernel adds the header). A backup that
/// receives it becomes master after its skew time instead of the master-down interval.
/// For a process other than the one that ran the instance (keepalived's supervisor after
/// it died). `None` for an `auth_type AH` instance: its AH sequence number died with that
/// process, and a lower one is dropped by the peers as a replay.
#[allow(clippy::type_complexity)] // (destination, packet) pairs
pub fn release_packets(plan: &InstancePlan) -> Result<Option<Vec<(IpAddr, Vec<u8>)>>, VrrpError> {
    if plan.ah_key.is_some() {
        return Ok(None);
    }
    let mut advert = plan.advert.clone();
    advert.priority = 0;
    let mut ip_id = 0;
    let mut out = Vec::new();
    for &dst in &plan.destinations {
        let payload = codec::encode(&advert, plan.channel.source, dst, ChecksumMode::Standard)?;
        let packet = match (plan.channel.source, dst) {
            (IpAddr::V4(src), IpAddr::V4(dst4)) => {
                ip_id = ipv4::next_id(ip_id);
                ipv4::build(&ipv4::Ipv4Fields::new(src, dst4, ip_id), &payload, None)?
            }
            _ => payload,
        };
        out.push((dst, packet));
    }
    Ok(Some(out))
}

/// The VRID of a received packet (IPv4: after the IP and any AH header).
fn packet_vrid(packet: &RxPacket, family: Family) -> Option<u8> {
    vrrp_byte(packet, family, 1)
}

/// The priority field of a received packet.
fn packet_priority(packet: &RxPacket, family: Family) -> Option<u8> {
    vrrp_byte(packet, family, 2)
}

/// Byte `n` of the VRRP header of a received packet (after the IPv4 and AH headers).
fn vrrp_byte(packet: &RxPacket, family: Family, n: usize) -> Option<u8> {
    match family {
        Family::V4 => {
            let b = &packet.bytes;
            let ihl = usize::from(b.first()? & 0x0f) * 4;
            let start = if b.get(9) == Some(&codec::IPPROTO_AH) {
                ihl + codec::AH_LEN
            } else {
                ihl
            };
            b.get(start + n).copied()
        }
        Family::V6 => packet.bytes.get(n).copied(),
    }
}

/// A VIP as keepalived's dumps show it (measured): `10.0.0.200/24 dev eth0 scope global`,
/// a host prefix without its length, then the label.
fn vip_text(a: &AddressSpec) -> String {
    let host = if a.addr.is_ipv4() { 32 } else { 128 };
    let mut text = a.addr.to_string();
    if a.prefix_len != host {
        text.push_str(&format!("/{}", a.prefix_len));
    }
    text.push_str(&format!(
        " dev {} scope {}",
        a.interface,
        scope_word(a.scope)
    ));
    if let Some(label) = &a.label {
        text.push_str(&format!(" label {label}"));
    }
    text
}

/// `scope` as `ip` and keepalived print it.
fn scope_word(scope: u8) -> String {
    match scope {
        0 => "global".to_string(),
        200 => "site".to_string(),
        253 => "link".to_string(),
        254 => "host".to_string(),
        255 => "nowhere".to_string(),
        n => n.to_string(),
    }
}

/// A script's words as keepalived's dumps show them: the program by its real path (as
/// its script security check resolves it; a name without `/` is searched in `PATH`).
fn shown_command(command: &[String]) -> Vec<String> {
    let mut words = command.to_vec();
    if let Some(first) = words.first_mut() {
        let found = if first.contains('/') {
            Some(std::path::PathBuf::from(first.as_str()))
        } else {
            std::env::var_os("PATH").and_then(|path| {
                std::env::split_paths(&path)
                    .map(|d| d.join(first.as_str()))
                    .find(|p| p.is_file())
            })
        };
        if let Some(real) = found.and_then(|p| std::fs::canonicalize(p).ok()) {
            *first = real.to_string_lossy().into_owned();
        }
    }
    words
}

/// keepalived's default `router_id`: the host name.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim_end().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os_error(errno: i32) -> VrrpError {
        VrrpError::io("sending VRRP", std::io::Error::from_raw_os_error(errno))
    }

    #[test]
    fn send_error_lines_as_keepalived() {
        // Recorded from the real keepalived 2.2.7 (`keepalived -n -l -D --vrrp` in a
        // namespace, `unicast_src_ip 10.77.0.1`, `unicast_peer { 10.77.0.255 }` on a /24:
        // the broadcast address without SO_BROADCAST gives EACCES at every advert):
        // "(VI_UNI) Cant send advert to 10.77.0.255 (Permission denied)".
        let peer: IpAddr = "10.77.0.255".parse().unwrap();
        assert_eq!(
            send_error_line("VI_UNI", Some(peer), &os_error(13)),
            "(VI_UNI) Cant send advert to 10.77.0.255 (Permission denied)"
        );
        // The multicast form, from vrrp.c's `"(%s): send advert error %d (%m)"` (not
        // provoked on the real daemon: its priority-0 advert on a downed link is the one
        // ENETUNREACH it would print, and it keeps quiet about that one).
        assert_eq!(
            send_error_line("VI_1", None, &os_error(101)),
            "(VI_1): send advert error 101 (Network is unreachable)"
        );
    }
}
