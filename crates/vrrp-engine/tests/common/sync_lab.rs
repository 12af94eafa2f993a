//! The sync group lab: two routers (`hasg-r1`, `hasg-r2`), each with `vrrp_sync_group G1
//! { VI_A VI_B }`, `VI_A` (VRID 51, 10.99.1.100/24) on `hasg-a` and `VI_B` (VRID 52,
//! 10.99.2.100/24) on `hasg-b`, every interface on one of two bridges, advert_int 1,
//! `vrrp_garp_master_delay 0`, `-D` (detail lines).
//!
//! The expected lines below were recorded from real keepalived 2.2.7 (Debian's) running
//! that lab (`tests/sync_group_reference.rs` runs it again and checks them), with the lines
//! that do not come from the instances or the groups left out (`Netlink reports ...`,
//! `Sending gratuitous ARP on ...`, `Startup complete`, received-lower-priority
//! `discarding` lines where a test says so). Notifications are in keepalived's call order
//! (`vrrp_notify.c`); the scripts' own start order in the lab is racy.

/// One of the lab's two segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seg {
    /// `hasg-a`, `VI_A`.
    A,
    /// `hasg-b`, `VI_B`.
    B,
}

impl Seg {
    /// The instance index of this segment's member (and its tracker id).
    pub fn index(self) -> usize {
        match self {
            Seg::A => 0,
            Seg::B => 1,
        }
    }

    pub fn of(i: usize) -> Seg {
        if i == 0 {
            Seg::A
        } else {
            Seg::B
        }
    }

    pub fn instance(self) -> &'static str {
        match self {
            Seg::A => "VI_A",
            Seg::B => "VI_B",
        }
    }

    pub fn interface(self) -> &'static str {
        match self {
            Seg::A => "hasg-a",
            Seg::B => "hasg-b",
        }
    }

    pub fn vrid(self) -> u8 {
        match self {
            Seg::A => 51,
            Seg::B => 52,
        }
    }

    fn net(self) -> u8 {
        match self {
            Seg::A => 1,
            Seg::B => 2,
        }
    }

    /// Router `n`'s address on this segment (10.99.1.n / 10.99.2.n).
    pub fn addr(self, router: u8) -> std::net::Ipv4Addr {
        std::net::Ipv4Addr::new(10, 99, self.net(), router)
    }

    pub fn vip(self) -> std::net::Ipv4Addr {
        std::net::Ipv4Addr::new(10, 99, self.net(), 100)
    }
}

/// A router alone (priorities 200/200) from start to MASTER: both members time out
/// together, `VI_A` first, held; `VI_B` becomes master and pulls it. A router with higher
/// priorities joining a master logs the same (its `discarding` lines left out).
pub const START_ALONE: &[&str] = &[
    "(VI_A) removing VIPs.",
    "(VI_B) removing VIPs.",
    "(VI_A) Entering BACKUP STATE (init)",
    "(VI_B) Entering BACKUP STATE (init)",
    "(VI_A) Receive advertisement timeout",
    "(VI_B) Receive advertisement timeout",
    "(VI_B) Entering MASTER STATE",
    "(VI_B) setting VIPs.",
    "(VI_B) Sending/queueing gratuitous ARPs on hasg-b for 10.99.2.100",
    "VRRP_Group(G1) Syncing instances to MASTER state",
    "(VI_A) Entering MASTER STATE",
    "(VI_A) setting VIPs.",
    "(VI_A) Sending/queueing gratuitous ARPs on hasg-a for 10.99.1.100",
];

/// The group's BACKUP notification comes before the instances' (`vrrp_init_state()`).
pub const START_ALONE_NOTIFY: &[&str] = &[
    "GROUP G1 BACKUP 0",
    "INSTANCE VI_A BACKUP 200",
    "INSTANCE VI_B BACKUP 200",
    "INSTANCE VI_B MASTER 200",
    "INSTANCE VI_A MASTER 200",
    "GROUP G1 MASTER 0",
];

/// What a router (100/100) starting beside a master logs.
pub const BACKUP_START: &[&str] = &[
    "(VI_A) removing VIPs.",
    "(VI_B) removing VIPs.",
    "(VI_A) Entering BACKUP STATE (init)",
    "(VI_B) Entering BACKUP STATE (init)",
];

/// The master's `hasg-a` goes down (`ip link set hasg-a down`).
pub const MASTER_FAULT: &[&str] = &[
    "(VI_A) Entering FAULT STATE",
    "(VI_A) sent 0 priority",
    "(VI_A) removing VIPs.",
    "VRRP_Group(G1) Syncing instances to FAULT state",
    "(VI_B) Entering FAULT STATE",
    "(VI_B) removing VIPs.",
];

pub const MASTER_FAULT_NOTIFY: &[&str] = &[
    "INSTANCE VI_A FAULT 200",
    "INSTANCE VI_B FAULT 200",
    "GROUP G1 FAULT 0",
];

/// The backup router then: `VI_B` hears `VI_B`'s priority-0 advert, times out a skew later
/// and is held; `VI_A` times out after its down interval and takes both.
pub const TAKEOVER_AFTER_FAULT: &[&str] = &[
    "(VI_B) Backup received priority 0 advertisement",
    "(VI_B) Receive advertisement timeout",
    "(VI_A) Receive advertisement timeout",
    "(VI_A) Entering MASTER STATE",
    "(VI_A) setting VIPs.",
    "(VI_A) Sending/queueing gratuitous ARPs on hasg-a for 10.99.1.100",
    "VRRP_Group(G1) Syncing instances to MASTER state",
    "(VI_B) Entering MASTER STATE",
    "(VI_B) setting VIPs.",
    "(VI_B) Sending/queueing gratuitous ARPs on hasg-b for 10.99.2.100",
];

/// A member's interface back up (the group was in FAULT through it).
pub const FAULT_RECOVERY: &[&str] = &[
    "(VI_A) Entering BACKUP STATE",
    "VRRP_Group(G1) Syncing instances to BACKUP state",
    "(VI_B) Entering BACKUP STATE",
];

/// The recovered higher-priority router preempts (its `discarding` lines left out).
pub const PREEMPT_TOGETHER: &[&str] = &[
    "(VI_A) Receive advertisement timeout",
    "(VI_B) Receive advertisement timeout",
    "(VI_B) Entering MASTER STATE",
    "(VI_B) setting VIPs.",
    "(VI_B) Sending/queueing gratuitous ARPs on hasg-b for 10.99.2.100",
    "VRRP_Group(G1) Syncing instances to MASTER state",
    "(VI_A) Entering MASTER STATE",
    "(VI_A) setting VIPs.",
    "(VI_A) Sending/queueing gratuitous ARPs on hasg-a for 10.99.1.100",
];

/// The lower-priority master (100) hears `VI_B` at 200 first and steps down with `VI_A`.
pub const PULLED_TO_BACKUP_FROM_B: &[&str] = &[
    "(VI_B) Master received advert from 10.99.2.1 with higher priority 200, ours 100",
    "(VI_B) Entering BACKUP STATE",
    "(VI_B) removing VIPs.",
    "VRRP_Group(G1) Syncing instances to BACKUP state",
    "(VI_A) Entering BACKUP STATE",
    "(VI_A) removing VIPs.",
];

/// The same on a 150/150 master when a 200/200 router (10.99.x.2) takes over.
pub const PULLED_TO_BACKUP_FROM_B_150: &[&str] = &[
    "(VI_B) Master received advert from 10.99.2.2 with higher priority 200, ours 150",
    "(VI_B) Entering BACKUP STATE",
    "(VI_B) removing VIPs.",
    "VRRP_Group(G1) Syncing instances to BACKUP state",
    "(VI_A) Entering BACKUP STATE",
    "(VI_A) removing VIPs.",
];

/// The backup router's `hasg-a` goes down: `VI_B`, backup, is put in FAULT without a line.
pub const BACKUP_FAULT: &[&str] = &[
    "(VI_A) Entering FAULT STATE",
    "VRRP_Group(G1) Syncing instances to FAULT state",
];

/// ... but with its notification.
pub const BACKUP_FAULT_NOTIFY: &[&str] = &[
    "INSTANCE VI_A FAULT 100",
    "INSTANCE VI_B FAULT 100",
    "GROUP G1 FAULT 0",
];

/// Starting with `hasg-a` down.
pub const START_IN_FAULT: &[&str] = &[
    "(VI_A): entering FAULT state (interface hasg-a down)",
    "VRRP_Group(G1): Syncing VI_A to FAULT state",
    "(VI_A) entering FAULT state",
    "(VI_B) entering FAULT state",
    "(VI_A) removing VIPs.",
    "(VI_B) removing VIPs.",
];

pub const START_IN_FAULT_NOTIFY: &[&str] = &[
    "INSTANCE VI_A FAULT 100",
    "INSTANCE VI_B FAULT 100",
    "GROUP G1 FAULT 0",
];

/// A master stopping.
pub const STOP_MASTER: &[&str] = &[
    "(VI_A) sent 0 priority",
    "(VI_A) removing VIPs.",
    "(VI_B) sent 0 priority",
    "(VI_B) removing VIPs.",
];
