//! `vrrp_sync_group`: members move together, as keepalived 2.2.7's `vrrp_sync.c` moves
//! them. Sans IO like the machines: a [`Node`] holds every instance of one daemon and its
//! sync groups; [`Node::handle`] feeds an event to one instance, then does what keepalived
//! does after that instance's transition, and returns every instance's actions, the
//! groups' log lines and their notifications, in keepalived's order.
//!
//! What keepalived does, and so what this does:
//! - an instance whose down timer expires becomes master only if the group is MASTER or
//!   every other member wants MASTER (`vrrp_sync_can_goto_master()`); otherwise it stays
//!   BACKUP, wanting MASTER, for another master down interval. So the group goes master
//!   when its *last* member's timer expires, and a member whose peer has a lower priority
//!   never takes over while another member is content as backup ("prefer backup state to
//!   avoid thrashing");
//! - after an instance's transition on a packet or timer (the `VRRP_TSM` table): BACKUP,
//!   MASTER or FAULT to MASTER pulls the others to MASTER (`vrrp_sync_master()`,
//!   `VRRP_Group(G) Syncing instances to MASTER state`), MASTER to BACKUP pushes them to
//!   BACKUP (`vrrp_sync_backup()`);
//! - a member whose own trackers fail puts the others in FAULT (`down_instance()`,
//!   `vrrp_sync_fault()`); a member whose trackers recover stays in FAULT while another
//!   member's trackers hold it down, and the last one to recover takes the group to BACKUP
//!   (or MASTER) (`try_up_instance()`);
//! - the group's notifications run when the group's state changes
//!   (`send_group_notifies()`), and an instance's own are skipped when it enters the state
//!   its group is already in (`send_instance_notifies()`);
//! - at start-up a member held in FAULT puts the whole group in FAULT before any instance
//!   starts (`initialise_tracking_priorities()`, `vrrp_complete_init()`), and the group's
//!   BACKUP or FAULT notifications run before the instances' (`vrrp_init_state()`).
//!
//! Tracking weights of members are dropped or kept at planning ([`crate::plan`]), not
//! here. Not modelled: scripts still in their initial state (`num_member_init`), reloads.

use std::time::Duration;

use crate::machine::{Action, Event, GroupView, Instance, State};

/// keepalived's start-up (and reload) lines naming the trackers that hold instances in
/// FAULT, in its order: first the lines of the passes over the trackers (interfaces by
/// index, files, processes), then, by instance, each instance's script lines.
pub fn fault_reason_lines(instances: &[Instance]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut global = Vec::new();
    let mut per_instance = vec![Vec::new(); instances.len()];
    for (i, m) in instances.iter().enumerate() {
        for r in m.fault_reasons() {
            if r.per_instance() {
                per_instance[i].push((r.sort_key(i), r.line));
            } else {
                global.push((r.sort_key(i), r.line));
            }
        }
    }
    global.sort();
    for lines in &mut per_instance {
        lines.sort();
    }
    (
        global.into_iter().map(|(_, l)| l).collect(),
        per_instance
            .into_iter()
            .map(|v| v.into_iter().map(|(_, l)| l).collect())
            .collect(),
    )
}

/// A sync group as planned: its name and its members (indices into the node's instances).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupParams {
    /// `vrrp_sync_group NAME`.
    pub name: String,
    /// Member instances, in the `group { }` order.
    pub members: Vec<usize>,
}

/// What the runtime must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeAction {
    /// An action of instance `.0`.
    Instance(usize, Action),
    /// A log line of the groups (without the daemon's prefix).
    Log(String),
    /// Group `.0` entered this state: its notify scripts, FIFO line and e-mail.
    GroupNotify(usize, State),
}

#[derive(Debug, Clone)]
struct Group {
    name: String,
    members: Vec<usize>,
    state: State,
}

/// Every instance of one daemon, and its sync groups.
#[derive(Debug, Clone)]
pub struct Node {
    instances: Vec<Instance>,
    groups: Vec<Group>,
    /// The group of each instance.
    member_of: Vec<Option<usize>>,
    /// keepalived's `notifies_sent`.
    notified: Vec<bool>,
}

impl Node {
    /// A node of `instances` and `groups`. A member index out of range, or an instance
    /// already in an earlier group, is left out (keepalived: "cannot exist in more than
    /// one sync group"); a group left without members is dropped.
    pub fn new(instances: Vec<Instance>, groups: Vec<GroupParams>) -> Node {
        let mut member_of = vec![None; instances.len()];
        let mut kept = Vec::new();
        for g in groups {
            let mut members = Vec::new();
            for m in g.members {
                if m < instances.len() && member_of[m].is_none() {
                    member_of[m] = Some(kept.len());
                    members.push(m);
                }
            }
            if members.is_empty() {
                continue;
            }
            // `vrrp_sync_set_group()`: MASTER only if every member is an address owner
            // wanting MASTER; the start-up check below then leaves it so.
            let all_owners = members.iter().all(|&m| {
                let p = instances[m].params();
                p.want_master && p.base_priority == crate::machine::PRIO_OWNER
            });
            kept.push(Group {
                name: g.name,
                members,
                state: if all_owners {
                    State::Master
                } else {
                    State::Backup
                },
            });
        }
        let notified = vec![false; instances.len()];
        Node {
            instances,
            groups: kept,
            member_of,
            notified,
        }
    }

    /// The node after a reload: `instances` have already taken over from the old ones
    /// (`Instance::resume`), so they have notified their state before, and each group
    /// takes its state from its members as keepalived's `vrrp_complete_init()` does on a
    /// reload: FAULT if a member is in FAULT, MASTER if every member is master, else
    /// BACKUP.
    pub fn resumed(instances: Vec<Instance>, groups: Vec<GroupParams>) -> Node {
        let mut node = Node::new(instances, groups);
        for g in &mut node.groups {
            let states: Vec<State> = g
                .members
                .iter()
                .map(|&m| node.instances[m].state())
                .collect();
            g.state = if states.contains(&State::Fault) {
                State::Fault
            } else if states.iter().all(|s| *s == State::Master) {
                State::Master
            } else {
                State::Backup
            };
        }
        node.notified = vec![true; node.instances.len()];
        node
    }

    /// The instances, in configuration order.
    pub fn instances(&self) -> &[Instance] {
        &self.instances
    }

    /// One instance, to read or (AH sequence numbers) to advance.
    pub fn instance_mut(&mut self, i: usize) -> Option<&mut Instance> {
        self.instances.get_mut(i)
    }

    /// The name of group `g`.
    pub fn group_name(&self, g: usize) -> Option<&str> {
        self.groups.get(g).map(|g| g.name.as_str())
    }

    /// The state of group `g`.
    pub fn group_state(&self, g: usize) -> Option<State> {
        self.groups.get(g).map(|g| g.state)
    }

    /// The group instance `i` is a member of.
    pub fn group_of(&self, i: usize) -> Option<usize> {
        self.member_of.get(i).copied().flatten()
    }

    /// When [`Event::Timer`] must be delivered next, and to which instance.
    pub fn next_deadline(&self) -> Option<Duration> {
        self.instances
            .iter()
            .filter_map(Instance::next_deadline)
            .min()
    }

    /// Starts every instance: keepalived's start-up for groups, then `vrrp_init_state()`.
    pub fn start(&mut self, now: Duration) -> Vec<NodeAction> {
        let mut out = Vec::new();
        // `initialise_tracking_priorities()`: the lines naming what holds each instance in
        // FAULT (interfaces, files, processes over every instance, then each instance's
        // scripts), and a member held down puts its group in FAULT.
        let (global, per_instance) = fault_reason_lines(&self.instances);
        out.extend(global.into_iter().map(NodeAction::Log));
        for (i, scripts) in per_instance.into_iter().enumerate() {
            out.extend(scripts.into_iter().map(NodeAction::Log));
            let Some(g) = self.member_of[i] else { continue };
            if self.instances[i].tracker_fault() && self.groups[g].state != State::Fault {
                self.groups[g].state = State::Fault;
                out.push(NodeAction::Log(format!(
                    "VRRP_Group({}): Syncing {} to FAULT state",
                    self.groups[g].name,
                    self.instances[i].params().name
                )));
            }
        }
        // `vrrp_complete_init()`: every instance held down, and every member of a group in
        // FAULT, enters FAULT (all these lines before any instance starts).
        for i in 0..self.instances.len() {
            let group_fault =
                self.member_of[i].is_some_and(|g| self.groups[g].state == State::Fault);
            if group_fault || self.instances[i].tracker_fault() {
                let actions = self.instances[i].enter_fault_at_start();
                self.push_instance(i, actions, &mut out);
            }
        }
        // `vrrp_init_state()`: groups in FAULT or BACKUP notify first.
        for g in 0..self.groups.len() {
            if matches!(self.groups[g].state, State::Fault | State::Backup) {
                out.push(NodeAction::GroupNotify(g, self.groups[g].state));
            }
        }
        // Every instance's stale addresses go before any instance enters its state
        // (measured: `(VI_A) removing VIPs.`, `(VI_B) removing VIPs.`, then `(VI_A)
        // Entering BACKUP STATE (init)`...).
        let mut rest = Vec::new();
        for i in 0..self.instances.len() {
            let mut actions = match self.member_of[i] {
                Some(g) => {
                    let state = self.groups[g].state;
                    self.instances[i].start_in_group(state, now)
                }
                None => self.instances[i].handle(Event::Start, now),
            };
            let cleanup = actions
                .iter()
                .position(|a| *a == Action::RemoveAddresses)
                .map_or(0, |p| p + 1);
            let tail = actions.split_off(cleanup);
            self.push_instance(i, actions, &mut out);
            rest.push((i, tail));
        }
        for (i, actions) in rest {
            self.push_instance(i, actions, &mut out);
        }
        out
    }

    /// Stops every instance, then notifies every group of STOP (`notify_shutdown()`).
    pub fn stop(&mut self, now: Duration) -> Vec<NodeAction> {
        let mut out = Vec::new();
        for i in 0..self.instances.len() {
            let actions = self.instances[i].handle(Event::Stop, now);
            self.push_instance(i, actions, &mut out);
        }
        for g in 0..self.groups.len() {
            self.groups[g].state = State::Stopped;
            out.push(NodeAction::GroupNotify(g, State::Stopped));
        }
        out
    }

    /// Feeds `event` to instance `i` at `now` and moves its group after it.
    pub fn handle(&mut self, i: usize, event: Event<'_>, now: Duration) -> Vec<NodeAction> {
        let mut out = Vec::new();
        if i >= self.instances.len() {
            return out;
        }
        let group = self.member_of[i];
        // Before start-up the group is set from its members in `Node::start`
        // (keepalived's `initialise_tracking_priorities()`), not moved by them.
        let started = self.instances[i].state() != State::Init;
        let Some(g) = group.filter(|_| started || matches!(event, Event::Start)) else {
            let actions = self.instances[i].handle(event, now);
            self.push_instance(i, actions, &mut out);
            return out;
        };
        match event {
            Event::Start => {
                let state = self.groups[g].state;
                let actions = self.instances[i].start_in_group(state, now);
                self.push_instance(i, actions, &mut out);
            }
            Event::Stop => {
                let actions = self.instances[i].handle(event, now);
                self.push_instance(i, actions, &mut out);
            }
            Event::Packet(_) | Event::Timer => {
                let before = self.instances[i].state();
                let view = self.view(g, i);
                let actions = self.instances[i].handle_in_group(event, now, view);
                self.push_instance(i, actions, &mut out);
                // `VRRP_TSM_HANDLE(prev_state, vrrp)`.
                match (before, self.instances[i].state()) {
                    (State::Backup | State::Master | State::Fault, State::Master) => {
                        self.sync_master(g, i, now, &mut out)
                    }
                    (State::Master, State::Backup) => self.sync_backup(g, i, now, &mut out),
                    _ => {}
                }
            }
            Event::Tracker(..) => {
                let was_down = self.instances[i].tracker_fault();
                let view = self.view(g, i);
                let actions = self.instances[i].handle_in_group(event, now, view);
                self.push_instance(i, actions, &mut out);
                let is_down = self.instances[i].tracker_fault();
                if is_down && !was_down {
                    // `down_instance()`: the first member down takes the group to FAULT.
                    if !view.other_member_faulted {
                        self.sync_fault(g, i, now, &mut out);
                    }
                } else if was_down && !is_down && !view.other_member_faulted {
                    // `try_up_instance()`: the last member up takes the group along.
                    match self.instances[i].state() {
                        State::Master => self.sync_master(g, i, now, &mut out),
                        State::Backup => self.sync_backup(g, i, now, &mut out),
                        _ => {}
                    }
                }
            }
        }
        out
    }

    /// What member `i` of group `g` may do now.
    fn view(&self, g: usize, i: usize) -> GroupView {
        let group = &self.groups[g];
        let others = || group.members.iter().filter(move |&&m| m != i);
        GroupView {
            may_become_master: group.state == State::Master
                || others().all(|&m| self.instances[m].wants() == State::Master),
            other_member_faulted: others().any(|&m| self.instances[m].tracker_fault()),
        }
    }

    /// `vrrp_sync_master()`.
    fn sync_master(&mut self, g: usize, trigger: usize, now: Duration, out: &mut Vec<NodeAction>) {
        if self.groups[g].state == State::Master {
            return;
        }
        if !self.view(g, trigger).may_become_master {
            self.instances[trigger].hold_for_group(now);
            return;
        }
        out.push(NodeAction::Log(format!(
            "VRRP_Group({}) Syncing instances to MASTER state",
            self.groups[g].name
        )));
        for k in 0..self.groups[g].members.len() {
            let m = self.groups[g].members[k];
            if m == trigger || self.instances[m].state() == State::Master {
                continue;
            }
            // The view is taken member by member, with the group not yet MASTER: with
            // three or more members, one whose turn comes before another member wants
            // MASTER is held back, as keepalived holds it.
            let view = self.view(g, m);
            let actions = self.instances[m].sync_to_master(now, view);
            self.push_instance(m, actions, out);
        }
        self.groups[g].state = State::Master;
        out.push(NodeAction::GroupNotify(g, State::Master));
    }

    /// `vrrp_sync_backup()`.
    fn sync_backup(&mut self, g: usize, trigger: usize, now: Duration, out: &mut Vec<NodeAction>) {
        if self.groups[g].state == State::Backup {
            return;
        }
        out.push(NodeAction::Log(format!(
            "VRRP_Group({}) Syncing instances to BACKUP state",
            self.groups[g].name
        )));
        for k in 0..self.groups[g].members.len() {
            let m = self.groups[g].members[k];
            if m == trigger || self.instances[m].state() == State::Backup {
                continue;
            }
            let actions = self.instances[m].sync_to_backup(now);
            self.push_instance(m, actions, out);
        }
        self.groups[g].state = State::Backup;
        out.push(NodeAction::GroupNotify(g, State::Backup));
    }

    /// `vrrp_sync_fault()`.
    fn sync_fault(&mut self, g: usize, trigger: usize, now: Duration, out: &mut Vec<NodeAction>) {
        if self.groups[g].state == State::Fault {
            return;
        }
        out.push(NodeAction::Log(format!(
            "VRRP_Group({}) Syncing instances to FAULT state",
            self.groups[g].name
        )));
        for k in 0..self.groups[g].members.len() {
            let m = self.groups[g].members[k];
            if m == trigger || self.instances[m].state() == State::Fault {
                continue;
            }
            let actions = self.instances[m].sync_to_fault(now);
            self.push_instance(m, actions, out);
        }
        self.groups[g].state = State::Fault;
        out.push(NodeAction::GroupNotify(g, State::Fault));
    }

    /// Passes instance `i`'s actions on: its notifications unless its group is already
    /// in that state and it has notified before (`send_instance_notifies()`), and before a
    /// `notify_master_rx_lower_pri` the other members' lower-priority GARPs.
    fn push_instance(&mut self, i: usize, actions: Vec<Action>, out: &mut Vec<NodeAction>) {
        let group = self.member_of[i];
        for action in actions {
            match (&action, group) {
                (Action::Notify(state, _), Some(g)) => {
                    if self.notified[i] && *state == self.groups[g].state {
                        continue;
                    }
                    self.notified[i] = true;
                }
                (Action::Notify(..), None) => self.notified[i] = true,
                (Action::NotifyMasterRxLowerPri, Some(g)) => {
                    for k in 0..self.groups[g].members.len() {
                        let m = self.groups[g].members[k];
                        if m != i {
                            for a in self.instances[m].lower_prio_garp() {
                                out.push(NodeAction::Instance(m, a));
                            }
                        }
                    }
                }
                _ => {}
            }
            out.push(NodeAction::Instance(i, action));
        }
    }
}
