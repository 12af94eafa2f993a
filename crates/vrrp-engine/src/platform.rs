//! The seam between the engine and the operating system: everything Linux-specific the VRRP
//! runtime needs (raw VRRP sockets, addresses, gratuitous ARP / unsolicited NA, link state)
//! behind one trait, [`Platform`], so the engine above it runs without privileges in tests.
//!
//! Received packets and link changes are not polled: the platform pushes them as [`Input`]s
//! into the runtime's channel from its own receiver threads, so the runtime's loop waits on
//! one queue with a timeout (the state machines' next deadline).

use std::net::IpAddr;
use std::sync::mpsc::Sender;

use crate::codec::Family;
use crate::error::VrrpError;
use crate::track::{TrackerId, TrackerState};

/// Identifies a VRRP channel opened with [`Platform::open_channel`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelId(pub usize);

/// What a VRRP instance sends and receives on: one per instance (keepalived opens one
/// socket pair per instance too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelSpec {
    /// The instance's `interface`.
    pub interface: String,
    /// Address family of the instance.
    pub family: Family,
    /// The IP protocol received: 112 (VRRP), or 51 when `auth_type AH`.
    pub protocol: u8,
    /// Multicast group to join (`None` for a unicast instance).
    pub multicast_group: Option<IpAddr>,
    /// `unicast_src_ip` / `mcast_src_ip`, or the interface's primary address.
    pub source: IpAddr,
    /// IPv6 v3: have the kernel fill the checksum at offset 6 (`IPV6_CHECKSUM`), as
    /// keepalived does. IPv4 packets are sent whole (`IP_HDRINCL`).
    pub kernel_checksum: bool,
}

/// A packet as received on a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RxPacket {
    /// IPv4: the whole packet including its IP header. IPv6: the payload after the header.
    pub bytes: Vec<u8>,
    /// IPv6: (source, destination).
    pub v6_addrs: Option<(IpAddr, IpAddr)>,
    /// IPv6: hop limit from the ancillary data.
    pub v6_hop_limit: Option<u8>,
    /// IPv6: arrived on a multicast destination.
    pub v6_multicast: bool,
}

/// Facts about an interface the engine needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceInfo {
    /// Kernel index.
    pub index: u32,
    /// Administratively and operationally up (`IFF_UP` and `IFF_RUNNING`).
    pub up: bool,
    /// Hardware address (6 bytes for Ethernet; empty if none).
    pub mac: Vec<u8>,
    /// The first IPv4 address on the interface (keepalived's primary address), if any.
    pub ipv4: Option<std::net::Ipv4Addr>,
    /// The first IPv6 link-local address, if any.
    pub ipv6_link_local: Option<std::net::Ipv6Addr>,
}

/// A virtual address as it goes on an interface (the model's `VirtualIp`, resolved).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AddressSpec {
    pub interface: String,
    pub addr: IpAddr,
    pub prefix_len: u8,
    /// IPv4 broadcast address, already computed for `brd +`.
    pub broadcast: Option<std::net::Ipv4Addr>,
    /// `scope`: the kernel's numeric `rtm_scope` value (0 global, 200 site, 253 link,
    /// 254 host, 255 nowhere).
    pub scope: u8,
    pub label: Option<String>,
    /// `peer ADDR[/len]`.
    pub peer: Option<IpAddr>,
    /// IPv6 flags, as the kernel's `IFA_F_HOMEADDRESS` / `IFA_F_NODAD` /
    /// `IFA_F_NOPREFIXROUTE` to set. `nodad` is the flag itself: keepalived sets it on
    /// every IPv6 VIP unless the line says `-nodad` (`VirtualIp::nodad` is that `-nodad`).
    pub home: bool,
    pub nodad: bool,
    pub noprefixroute: bool,
}

/// Everything the runtime reacts to, in one queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A packet arrived on a channel.
    Packet(ChannelId, RxPacket),
    /// An interface went up or down (from the netlink link watch).
    Link {
        /// Interface name.
        interface: String,
        /// New state.
        up: bool,
    },
    /// A tracker's state changed (from the tracking runner).
    Tracker(TrackerId, TrackerState),
    /// A log line produced off the main loop (tracking runner, notify runner).
    Log(String),
    /// Stop: send priority 0, remove the VIPs, exit.
    Stop,
    /// Reload the configuration.
    Reload,
    /// Write one of keepalived's dumps (SIGUSR1, SIGUSR2, SIGRTMIN+2).
    Dump(crate::dump::DumpKind),
    /// Send a [`crate::dump::Snapshot`] to the status socket's thread
    /// ([`crate::status`]), taken as for a dump.
    Status(crate::status::SnapshotReply),
}

/// The operating system, as the VRRP runtime uses it. One implementation drives Linux
/// (`crate::linux::LinuxPlatform`); tests use an in-memory one.
pub trait Platform: Send {
    /// What the engine needs to know about `interface`.
    fn interface(&mut self, interface: &str) -> Result<InterfaceInfo, VrrpError>;

    /// Opens a channel and starts delivering its packets as [`Input::Packet`] to `inbound`.
    fn open_channel(
        &mut self,
        spec: &ChannelSpec,
        inbound: Sender<Input>,
    ) -> Result<ChannelId, VrrpError>;

    /// The channel's receive and send socket descriptors, as keepalived's data dump shows
    /// them (`fd_in`, `fd_out`); `(-1, -1)` where there are none.
    fn channel_fds(&self, _channel: ChannelId) -> (i32, i32) {
        (-1, -1)
    }

    /// Every interface of the namespace, in the kernel's order, for keepalived's data dump
    /// (`tracking` left empty). Empty where there is no such list.
    fn interface_list(&mut self) -> Vec<crate::dump::InterfaceDump> {
        Vec::new()
    }

    /// Closes a channel (a reload dropped or changed its instance); an unknown id is
    /// ignored.
    fn close_channel(&mut self, channel: ChannelId);

    /// Sends one packet on `channel` to `dst`. IPv4: `packet` is the whole IP packet
    /// (header built by the engine). IPv6: the payload only (the kernel adds the header,
    /// hop limit 255).
    fn send(&mut self, channel: ChannelId, dst: IpAddr, packet: &[u8]) -> Result<(), VrrpError>;

    /// Adds a virtual address; an address already present is not an error.
    fn add_address(&mut self, address: &AddressSpec) -> Result<(), VrrpError>;

    /// Removes a virtual address; an address already absent is not an error.
    fn remove_address(&mut self, address: &AddressSpec) -> Result<(), VrrpError>;

    /// Whether `addr` is configured on `interface` now.
    fn has_address(&mut self, interface: &str, addr: IpAddr) -> Result<bool, VrrpError>;

    /// Sends one gratuitous ARP (IPv4) or unsolicited neighbour advertisement (IPv6) for
    /// `addr` on `interface`, from the interface's own MAC address.
    fn announce(&mut self, interface: &str, addr: IpAddr) -> Result<(), VrrpError>;

    /// Starts delivering link up/down changes as [`Input::Link`] to `inbound`.
    fn watch_links(&mut self, inbound: Sender<Input>) -> Result<(), VrrpError>;
}
