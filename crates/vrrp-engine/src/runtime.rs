//! The thin runtime around the state machines: one loop that waits on one queue of
//! [`Input`]s (packets, link changes, tracker results, stop/reload) with a timeout at the
//! earliest machine deadline, feeds each input to the instances it concerns, and carries
//! out their [`Action`]s through a [`Platform`].
//!
//! Threads, not async: the engine has one socket per instance, a netlink watch and a few
//! tracker threads; a blocking loop with `recv_timeout` keeps the timing exact and the
//! code plain.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use keepalived_conf::model::KeepalivedConfig;

use crate::ah;
use crate::codec::{self, ChecksumMode, Family};
use crate::error::VrrpError;
use crate::ipv4;
use crate::log::Logger;
use crate::machine::{Action, Event, Instance, State};
use crate::plan::{self, InstancePlan, PlanOptions};
use crate::platform::{ChannelId, Input, Platform, RxPacket};
use crate::rx::Received;
use crate::sync_group::{Node, NodeAction};
use crate::track::{TrackerKind, TrackerState, TrackerTable};

/// Something told of state changes (the notify scripts, FIFO and e-mail).
pub trait Notifications {
    /// Instance `name` entered `state` with `priority`.
    fn instance(&mut self, name: &str, state: State, priority: u8);
    /// Instance `name`, master, received a lower-priority advert.
    fn master_rx_lower_pri(&mut self, name: &str, priority: u8);
    /// Sync group `name` entered `state`.
    fn group(&mut self, name: &str, state: State);
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
        let node_plan = plan::plan(config, &table, &interfaces, options)?;
        for line in &node_plan.warnings {
            logger.info(line);
        }
        let mut running = Vec::new();
        let mut machines = Vec::new();
        for plan in node_plan.instances {
            let channel = platform.open_channel(&plan.channel, sender.clone())?;
            machines.push(Instance::new(plan.params.clone()));
            running.push(Running {
                plan,
                channel,
                ip_id: 0,
                rejected: BTreeMap::new(),
            });
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
        })
    }

    /// Replaces who is told of state changes (a [`crate::notify::Notifier`] needs
    /// [`Runtime::sender`] for its log lines, so it comes after [`Runtime::new`]).
    pub fn set_notifications(&mut self, notifications: Box<dyn Notifications>) {
        self.notifications = notifications;
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

    /// Runs until [`Input::Stop`]; returns after every instance has stopped.
    pub fn run(mut self) -> Result<(), VrrpError> {
        // Interfaces first: an instance whose interface is down starts in FAULT.
        let links: Vec<(String, bool)> = self.links.clone().into_iter().collect();
        for (name, up) in links {
            self.link(&name, up, false);
        }
        let now = self.now();
        let actions = self.node.start(now);
        self.act_all(actions);
        loop {
            let now = self.now();
            let deadline = self.node.next_deadline();
            let input = match deadline {
                Some(d) if d <= now => Err(RecvTimeoutError::Timeout),
                Some(d) => self.inbound.recv_timeout(d - now),
                None => self
                    .inbound
                    .recv()
                    .map_err(|_| RecvTimeoutError::Disconnected),
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
                Err(RecvTimeoutError::Disconnected) => break,
                Ok(Input::Packet(channel, packet)) => self.packet(channel, &packet),
                Ok(Input::Link { interface, up }) => self.link(&interface, up, true),
                Ok(Input::Tracker(id, state)) => {
                    for i in 0..self.running.len() {
                        self.feed(i, Event::Tracker(id, state));
                    }
                }
                Ok(Input::Log(line)) => self.logger.info(&line),
                Ok(Input::Stop) => break,
                Ok(Input::Reload) => {
                    self.logger
                        .info("Reloading is not supported yet by ha-compat; restart to apply a new configuration");
                }
            }
        }
        let now = self.now();
        let actions = self.node.stop(now);
        self.act_all(actions);
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
        for i in 0..self.running.len() {
            if self.running[i].channel == channel && self.running[i].plan.params.vrid == vrid {
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
                let machine = self.node.instance_mut(i);
                if let Err(e) = send_advert(&mut self.platform, r, machine, priority) {
                    self.logger.info(&format!(
                        "({}): send advert error ({e})",
                        r.plan.params.name
                    ));
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
            Action::Reject(counter) => *r.rejected.entry(counter).or_insert(0) += 1,
        }
    }
}

/// Builds and sends one advert of `r` with `priority` to each destination.
fn send_advert<P: Platform>(
    platform: &mut P,
    r: &mut Running,
    machine: Option<&mut Instance>,
    priority: u8,
) -> Result<(), VrrpError> {
    let mut advert = r.plan.advert.clone();
    advert.priority = priority;
    // One sequence number per advert, whatever the number of unicast peers (keepalived).
    let seq = match (&r.plan.ah_key, machine) {
        (Some(_), Some(m)) => Some(m.next_ah_seq()),
        _ => None,
    };
    for dst in r.plan.destinations.clone() {
        let payload = codec::encode(&advert, r.plan.channel.source, dst, ChecksumMode::Standard)?;
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
        platform.send(r.channel, dst, &packet)?;
    }
    Ok(())
}

/// The VRID of a received packet (IPv4: after the IP and any AH header).
fn packet_vrid(packet: &RxPacket, family: Family) -> Option<u8> {
    match family {
        Family::V4 => {
            let b = &packet.bytes;
            let ihl = usize::from(b.first()? & 0x0f) * 4;
            let start = if b.get(9) == Some(&codec::IPPROTO_AH) {
                ihl + codec::AH_LEN
            } else {
                ihl
            };
            b.get(start + 1).copied()
        }
        Family::V6 => packet.bytes.get(1).copied(),
    }
}
