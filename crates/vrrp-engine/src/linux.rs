//! [`Platform`] for Linux, with keepalived 2.2.7's socket options (`vrrp.c`
//! `open_vrrp_send_socket` / `open_vrrp_read_socket`, `vrrp_if.c`), its address requests
//! (`vrrp_ipaddress.c` `netlink_ipaddress`), its gratuitous ARP (`vrrp_arp.c`) and its
//! unsolicited neighbour advertisement (`vrrp_ndisc.c`).
//!
//! Every socket belongs to the network namespace of the thread that opened it: the route
//! netlink and packet sockets to the one that called [`LinuxPlatform::new`], a channel's
//! sockets to the one that called [`Platform::open_channel`], the link watch to the one
//! that called [`Platform::watch_links`].
//!
//! Route netlink goes through the synchronous `netlink-sys` + `netlink-packet-route` (the
//! engine runs on std threads and mpsc, no async runtime); those crates churn, so they are
//! used only in this file.

use std::collections::HashMap;
use std::io::{self, IoSlice, IoSliceMut, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::Duration;

use netlink_packet_core::{
    NetlinkBuffer, NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_DUMP,
    NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressMessage, AddressScope};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::protocols::NETLINK_ROUTE;
use nix::libc;
use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, SockaddrIn6};
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, SockAddr, SockFilter, Socket, Type};

use crate::codec::Family;
use crate::error::VrrpError;
use crate::platform::{
    AddressSpec, ChannelId, ChannelSpec, Input, InterfaceInfo, Platform, RxPacket,
};

/// How often a receiver thread wakes up to see whether it should stop.
const POLL: Duration = Duration::from_millis(200);
/// How long a netlink request may take before it is an error.
const NETLINK_TIMEOUT: Duration = Duration::from_secs(5);
/// keepalived's `IPTOS_PREC_INTERNETCONTROL` (IPv4) and `0xc0` traffic class (IPv6).
const TOS_INTERNETCONTROL: u32 = 0xc0;
/// `RTMGRP_LINK`.
const RTMGRP_LINK: u32 = 1;
const ETH_P_ARP: u16 = 0x0806;
const ETH_P_IP: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86dd;
const ARPOP_REQUEST: u16 = 1;
const IPPROTO_ICMPV6: u8 = 58;
const ND_NEIGHBOR_ADVERT: u8 = 136;
const ND_NA_FLAG_ROUTER: u32 = 0x8000_0000;
const ND_NA_FLAG_OVERRIDE: u32 = 0x2000_0000;
const ND_OPT_TARGET_LINKADDR: u8 = 2;

/// One open channel: keepalived's `fd_out` (the send socket); its `fd_in` lives in the
/// channel's receiver thread.
#[derive(Debug)]
struct Channel {
    /// The receiver thread's socket (its number, for keepalived's data dump).
    recv_fd: i32,
    send: Socket,
    family: Family,
    ifindex: u32,
    source: IpAddr,
    stop: Arc<AtomicBool>,
}

/// Link facts from `RTM_GETLINK`.
#[derive(Debug, Clone)]
struct Link {
    index: u32,
    flags: LinkFlags,
    hw_type: u16,
    mac: Vec<u8>,
    broadcast: Vec<u8>,
}

/// The Linux implementation of [`Platform`].
#[derive(Debug)]
pub struct LinuxPlatform {
    rtnl: Rtnl,
    /// `gratuitous_arp_init`: `PF_PACKET`, `SOCK_RAW`, `htons(ETH_P_ARP)`, receives nothing.
    arp: Socket,
    /// `ndisc_init`: `PF_PACKET`, `SOCK_RAW`, `htons(ETH_P_IPV6)`, receives nothing.
    ndisc: Socket,
    channels: HashMap<ChannelId, Channel>,
    next_channel: usize,
    /// Set on drop: every receiver thread (channels, link watch) ends within [`POLL`].
    stop: Arc<AtomicBool>,
}

impl LinuxPlatform {
    /// Opens the route netlink socket and the two packet sockets (GARP, NA) in the calling
    /// thread's network namespace. Needs `CAP_NET_RAW` and `CAP_NET_ADMIN`.
    pub fn new() -> Result<Self, VrrpError> {
        Ok(LinuxPlatform {
            rtnl: Rtnl::open()?,
            arp: packet_socket(ETH_P_ARP)
                .map_err(|e| VrrpError::io("gratuitous ARP packet socket", e))?,
            ndisc: packet_socket(ETH_P_IPV6)
                .map_err(|e| VrrpError::io("neighbour advertisement packet socket", e))?,
            channels: HashMap::new(),
            next_channel: 0,
            stop: Arc::new(AtomicBool::new(false)),
        })
    }

    fn link(&mut self, interface: &str) -> Result<Link, VrrpError> {
        let mut msg = LinkMessage::default();
        msg.attributes
            .push(LinkAttribute::IfName(interface.to_string()));
        let replies = match self.rtnl.request(
            RouteNetlinkMessage::GetLink(msg),
            0,
            &format!("RTM_GETLINK {interface}"),
        ) {
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => {
                return Err(VrrpError::NoInterface(interface.to_string()))
            }
            r => r?,
        };
        replies
            .into_iter()
            .find_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(link_of(&l)),
                _ => None,
            })
            .ok_or_else(|| VrrpError::NoInterface(interface.to_string()))
    }

    /// Every address of `family` (`Unspec` for all) on interface `index`.
    fn addresses(
        &mut self,
        index: u32,
        family: AddressFamily,
    ) -> Result<Vec<AddressMessage>, VrrpError> {
        let mut msg = AddressMessage::default();
        msg.header.family = family;
        let replies = self.rtnl.request(
            RouteNetlinkMessage::GetAddress(msg),
            NLM_F_DUMP,
            "RTM_GETADDR dump",
        )?;
        Ok(replies
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewAddress(a) if a.header.index == index => Some(a),
                _ => None,
            })
            .collect())
    }

    fn channel(&self, channel: ChannelId) -> Result<&Channel, VrrpError> {
        self.channels
            .get(&channel)
            .ok_or_else(|| VrrpError::Platform(format!("no channel {}", channel.0)))
    }
}

impl Drop for LinuxPlatform {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for ch in self.channels.values() {
            ch.stop.store(true, Ordering::Relaxed);
        }
    }
}

impl Platform for LinuxPlatform {
    /// Its send socket now, its receiver thread within [`POLL`].
    fn channel_fds(&self, channel: ChannelId) -> (i32, i32) {
        self.channels
            .get(&channel)
            .map_or((-1, -1), |ch| (ch.recv_fd, ch.send.as_raw_fd()))
    }

    fn interface_list(&mut self) -> Vec<crate::dump::InterfaceDump> {
        let Ok(links) = self.rtnl.request(
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
            NLM_F_DUMP,
            "RTM_GETLINK dump",
        ) else {
            return Vec::new();
        };
        let addrs = self
            .rtnl
            .request(
                RouteNetlinkMessage::GetAddress(AddressMessage::default()),
                NLM_F_DUMP,
                "RTM_GETADDR dump",
            )
            .unwrap_or_default();
        let mut out = Vec::new();
        for m in links {
            let RouteNetlinkMessage::NewLink(l) = m else {
                continue;
            };
            let link = link_of(&l);
            let mut dump = crate::dump::InterfaceDump {
                index: link.index,
                flags: l.header.flags.bits(),
                hw_type: link.hw_type,
                mac: link.mac,
                broadcast: link.broadcast,
                ..Default::default()
            };
            for a in &l.attributes {
                match a {
                    LinkAttribute::IfName(n) => dump.name.clone_from(n),
                    LinkAttribute::Mtu(mtu) => dump.mtu = *mtu,
                    _ => {}
                }
            }
            for a in &addrs {
                let RouteNetlinkMessage::NewAddress(a) = a else {
                    continue;
                };
                if a.header.index != link.index {
                    continue;
                }
                match address_of(a) {
                    Some(IpAddr::V4(v4)) => dump.ipv4.push(v4),
                    Some(IpAddr::V6(v6)) => dump.ipv6.push(v6),
                    None => {}
                }
            }
            out.push(dump);
        }
        out
    }

    fn close_channel(&mut self, channel: ChannelId) {
        if let Some(ch) = self.channels.remove(&channel) {
            ch.stop.store(true, Ordering::Relaxed);
        }
    }

    fn interface(&mut self, interface: &str) -> Result<InterfaceInfo, VrrpError> {
        let link = self.link(interface)?;
        let addrs = self.addresses(link.index, AddressFamily::Unspec)?;
        let ipv4 = addrs.iter().find_map(|a| match address_of(a) {
            Some(IpAddr::V4(v4)) => Some(v4),
            _ => None,
        });
        let ipv6_link_local = addrs.iter().find_map(|a| match address_of(a) {
            Some(IpAddr::V6(v6)) if (v6.segments()[0] & 0xffc0) == 0xfe80 => Some(v6),
            _ => None,
        });
        Ok(InterfaceInfo {
            index: link.index,
            up: link.flags.contains(LinkFlags::Up | LinkFlags::Running),
            mac: link.mac,
            ipv4,
            ipv6_link_local,
        })
    }

    fn open_channel(
        &mut self,
        spec: &ChannelSpec,
        inbound: Sender<Input>,
    ) -> Result<ChannelId, VrrpError> {
        let link = self.link(&spec.interface)?;
        if Family::of(&spec.source) != spec.family
            || spec
                .multicast_group
                .is_some_and(|g| Family::of(&g) != spec.family)
        {
            return Err(VrrpError::Platform(format!(
                "channel on {}: source / group of another family than the channel",
                spec.interface
            )));
        }
        let send = open_send_socket(spec, link.index)
            .map_err(|e| VrrpError::io(format!("VRRP send socket on {}", spec.interface), e))?;
        let recv = open_read_socket(spec, link.index)
            .map_err(|e| VrrpError::io(format!("VRRP read socket on {}", spec.interface), e))?;
        let id = ChannelId(self.next_channel);
        self.next_channel += 1;
        let stop = Arc::new(AtomicBool::new(false));
        let recv_fd = recv.as_raw_fd();
        let receiver = Receiver {
            id,
            socket: recv,
            family: spec.family,
            inbound,
            stop: [Arc::clone(&stop), Arc::clone(&self.stop)],
        };
        std::thread::Builder::new()
            .name(format!("vrrp-rx-{}", spec.interface))
            .spawn(move || receiver.run())
            .map_err(|e| VrrpError::io("spawning a VRRP receiver thread", e))?;
        self.channels.insert(
            id,
            Channel {
                recv_fd,
                send,
                family: spec.family,
                ifindex: link.index,
                source: spec.source,
                stop,
            },
        );
        Ok(id)
    }

    fn send(&mut self, channel: ChannelId, dst: IpAddr, packet: &[u8]) -> Result<(), VrrpError> {
        let ch = self.channel(channel)?;
        // keepalived's vrrp_send_pkt: MSG_DONTROUTE on the multicast path, none to a peer.
        let flags = if dst.is_multicast() {
            libc::MSG_DONTROUTE
        } else {
            0
        };
        let what = || format!("sending VRRP to {dst}");
        match (ch.family, dst) {
            (Family::V4, IpAddr::V4(d)) => {
                let addr = SockAddr::from(SocketAddrV4::new(d, 0));
                ch.send
                    .send_to_with_flags(packet, &addr, flags)
                    .map_err(|e| VrrpError::io(what(), e))?;
            }
            (Family::V6, IpAddr::V6(d)) => {
                // vrrp_build_ancillary_data: IPV6_PKTINFO with the source and interface.
                let src = match ch.source {
                    IpAddr::V6(s) => s,
                    IpAddr::V4(_) => Ipv6Addr::UNSPECIFIED,
                };
                let info = libc::in6_pktinfo {
                    ipi6_addr: libc::in6_addr {
                        s6_addr: src.octets(),
                    },
                    ipi6_ifindex: ch.ifindex,
                };
                let scope = if needs_scope(&d) { ch.ifindex } else { 0 };
                let to = SockaddrIn6::from(SocketAddrV6::new(d, 0, 0, scope));
                nix::sys::socket::sendmsg(
                    ch.send.as_raw_fd(),
                    &[IoSlice::new(packet)],
                    &[ControlMessage::Ipv6PacketInfo(&info)],
                    MsgFlags::from_bits_truncate(flags),
                    Some(&to),
                )
                .map_err(|e| VrrpError::io(what(), e.into()))?;
            }
            _ => {
                return Err(VrrpError::Platform(format!(
                    "channel {} cannot send to {dst}: another family",
                    channel.0
                )))
            }
        }
        Ok(())
    }

    fn add_address(&mut self, address: &AddressSpec) -> Result<(), VrrpError> {
        // keepalived: "Not adding address ... since interface doesn't exist".
        let link = self.link(&address.interface)?;
        let msg = address_message(address, link.index, true);
        match self.rtnl.request(
            RouteNetlinkMessage::NewAddress(msg),
            NLM_F_ACK,
            &format!(
                "adding {}/{} to {}",
                address.addr, address.prefix_len, address.interface
            ),
        ) {
            // keepalived's netlink_parse_info: EEXIST on RTM_NEWADDR is success.
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(()),
            r => r.map(drop),
        }
    }

    fn remove_address(&mut self, address: &AddressSpec) -> Result<(), VrrpError> {
        // keepalived: "The interface has been deleted, so there is no point deleting the
        // address".
        let link = match self.link(&address.interface) {
            Err(VrrpError::NoInterface(_)) => return Ok(()),
            r => r?,
        };
        let msg = address_message(address, link.index, false);
        match self.rtnl.request(
            RouteNetlinkMessage::DelAddress(msg),
            NLM_F_ACK,
            &format!(
                "removing {}/{} from {}",
                address.addr, address.prefix_len, address.interface
            ),
        ) {
            // EADDRNOTAVAIL on RTM_DELADDR is success for keepalived; ENOENT / ENODEV mean
            // the address or the interface went away meanwhile.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EADDRNOTAVAIL | libc::ENOENT | libc::ENODEV)
                ) =>
            {
                Ok(())
            }
            r => r.map(drop),
        }
    }

    fn has_address(&mut self, interface: &str, addr: IpAddr) -> Result<bool, VrrpError> {
        let link = match self.link(interface) {
            Err(VrrpError::NoInterface(_)) => return Ok(false),
            r => r?,
        };
        let family = match addr {
            IpAddr::V4(_) => AddressFamily::Inet,
            IpAddr::V6(_) => AddressFamily::Inet6,
        };
        Ok(self
            .addresses(link.index, family)?
            .iter()
            .any(|a| address_of(a) == Some(addr)))
    }

    fn announce(&mut self, interface: &str, addr: IpAddr) -> Result<(), VrrpError> {
        let link = self.link(interface)?;
        // send_gratuitous_arp / ndisc_send_unsolicited_na: "If the interface doesn't
        // support ARP, don't try sending".
        if link.flags.contains(LinkFlags::Noarp) {
            return Ok(());
        }
        let mac: [u8; 6] = link.mac.as_slice().try_into().map_err(|_| {
            VrrpError::Platform(format!(
                "{interface}: no Ethernet address to announce {addr} from"
            ))
        })?;
        match addr {
            IpAddr::V4(vip) => {
                let bcast: [u8; 6] = link.broadcast.as_slice().try_into().unwrap_or([0xff; 6]);
                let frame = garp_frame(link.hw_type, mac, bcast, vip);
                let to = packet_sockaddr(link.index, ETH_P_ARP, link.hw_type, &bcast);
                self.arp
                    .send_to(&frame, &to)
                    .map_err(|e| VrrpError::io(format!("gratuitous ARP on {interface}"), e))?;
            }
            IpAddr::V6(vip) => {
                // set_ipv6_forwarding: the router flag when the interface forwards.
                let router = std::fs::read_to_string(format!(
                    "/proc/sys/net/ipv6/conf/{interface}/forwarding"
                ))
                .map(|s| s.trim() != "0")
                .unwrap_or(false);
                let frame = unsolicited_na_frame(mac, vip, router);
                let to = packet_sockaddr(link.index, ETH_P_IPV6, link.hw_type, &mac);
                self.ndisc.send_to(&frame, &to).map_err(|e| {
                    VrrpError::io(format!("unsolicited neighbour advert on {interface}"), e)
                })?;
            }
        }
        Ok(())
    }

    fn watch_links(&mut self, inbound: Sender<Input>) -> Result<(), VrrpError> {
        // Subscribe first, then read the current state: no change falls in between.
        let mut sock = netlink_sys::Socket::new(NETLINK_ROUTE)
            .map_err(|e| VrrpError::io("link watch netlink socket", e))?;
        sock.bind(&netlink_sys::SocketAddr::new(0, RTMGRP_LINK))
            .map_err(|e| VrrpError::io("subscribing to RTMGRP_LINK", e))?;
        socket2::SockRef::from(&sock)
            .set_read_timeout(Some(POLL))
            .map_err(|e| VrrpError::io("link watch socket timeout", e))?;
        let dump = self.rtnl.request(
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
            NLM_F_DUMP,
            "RTM_GETLINK dump",
        )?;
        let mut watch = LinkWatch {
            sock,
            state: HashMap::new(),
            inbound,
            stop: Arc::clone(&self.stop),
        };
        for m in dump {
            if let RouteNetlinkMessage::NewLink(l) = m {
                watch.state.insert(l.header.index, link_state(&l));
            }
        }
        std::thread::Builder::new()
            .name("vrrp-links".into())
            .spawn(move || watch.run())
            .map_err(|e| VrrpError::io("spawning the link watch thread", e))?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// VRRP sockets

/// keepalived's `open_vrrp_send_socket`.
fn open_send_socket(spec: &ChannelSpec, ifindex: u32) -> io::Result<Socket> {
    let v4 = spec.family == Family::V4;
    let sock = raw_socket(spec)?;
    let multicast = spec.multicast_group.is_some();
    // "We are not receiving on the send socket, there is no point allocating any buffers".
    sock.set_recv_buffer_size(0)?;
    if v4 {
        sock.set_multicast_all_v4(false)?;
        sock.set_header_included_v4(true)?;
        sock.set_multicast_ttl_v4(255)?;
    } else {
        sock.set_multicast_all_v6(false)?;
        if spec.kernel_checksum {
            set_ipv6_checksum(sock.as_fd(), 6)?;
        }
        // if_setsockopt_mcast_hops; keepalived gives unicast its hop limit per packet
        // (IPV6_HOPLIMIT), here the socket has it: 255 whichever `dst` is given.
        sock.set_multicast_hops_v6(255)?;
        sock.set_unicast_hops_v6(255)?;
    }
    sock.bind_device(Some(spec.interface.as_bytes()))?;
    if multicast {
        if v4 {
            set_multicast_if_v4_index(sock.as_fd(), ifindex)?;
            sock.set_multicast_loop_v4(false)?;
        } else {
            sock.set_multicast_if_v6(ifindex)?;
            sock.set_multicast_loop_v6(false)?;
        }
    }
    // if_setsockopt_priority.
    if v4 {
        sock.set_tos_v4(TOS_INTERNETCONTROL)?;
    } else {
        sock.set_tclass_v6(TOS_INTERNETCONTROL)?;
    }
    // if_setsockopt_no_receive: BPF "ret #0" drops everything.
    sock.attach_filter(&[SockFilter::new(0x06, 0, 0, 0)])?;
    Ok(sock)
}

/// keepalived's `open_vrrp_read_socket`.
fn open_read_socket(spec: &ChannelSpec, ifindex: u32) -> io::Result<Socket> {
    let sock = raw_socket(spec)?;
    match spec.family {
        Family::V4 => sock.set_multicast_all_v4(false)?,
        Family::V6 => sock.set_multicast_all_v6(false)?,
    }
    // keepalived binds the device last; binding it first lets the IPv6 link-scope group
    // bind below find its interface.
    sock.bind_device(Some(spec.interface.as_bytes()))?;
    match spec.multicast_group {
        // if_join_vrrp_group, then "Binding to the multicast address stops us receiving
        // unicast pkts when we are only interested in multicast".
        Some(IpAddr::V4(group)) => {
            sock.join_multicast_v4_n(&group, &InterfaceIndexOrAddress::Index(ifindex))?;
            sock.bind(&SockAddr::from(SocketAddrV4::new(group, 0)))?;
        }
        Some(IpAddr::V6(group)) => {
            sock.join_multicast_v6(&group, ifindex)?;
            let scope = if needs_scope(&group) { ifindex } else { 0 };
            sock.bind(&SockAddr::from(SocketAddrV6::new(group, 0, 0, scope)))?;
        }
        // "Bind to the local unicast address".
        None => {
            let scope = match spec.source {
                IpAddr::V6(s) if needs_scope(&s) => ifindex,
                _ => 0,
            };
            let addr = match spec.source {
                IpAddr::V4(s) => SocketAddr::V4(SocketAddrV4::new(s, 0)),
                IpAddr::V6(s) => SocketAddr::V6(SocketAddrV6::new(s, 0, 0, scope)),
            };
            sock.bind(&SockAddr::from(addr))?;
        }
    }
    if spec.family == Family::V6 {
        // "IPv6 we need to receive the hop count as ancillary data" and "the destination
        // address as ancillary data to determine if packet multicast".
        sock.set_recv_hoplimit_v6(true)?;
        nix::sys::socket::setsockopt(&sock, nix::sys::socket::sockopt::Ipv6RecvPacketInfo, &true)
            .map_err(io::Error::from)?;
        if spec.kernel_checksum {
            // "Let kernel calculate checksum" (and drop received packets whose is wrong).
            set_ipv6_checksum(sock.as_fd(), 6)?;
        }
    }
    sock.set_read_timeout(Some(POLL))?;
    Ok(sock)
}

fn raw_socket(spec: &ChannelSpec) -> io::Result<Socket> {
    let domain = match spec.family {
        Family::V4 => Domain::IPV4,
        Family::V6 => Domain::IPV6,
    };
    // socket2 opens with SOCK_CLOEXEC; blocking with a read timeout instead of
    // SOCK_NONBLOCK, as each socket has its own thread.
    Socket::new(
        domain,
        Type::RAW,
        Some(Protocol::from(i32::from(spec.protocol))),
    )
}

/// Link-local and interface-local addresses need the interface as scope id.
fn needs_scope(a: &Ipv6Addr) -> bool {
    (a.segments()[0] & 0xffc0) == 0xfe80 || (a.is_multicast() && a.segments()[0] & 0x000f <= 2)
}

/// A channel's receiver: keepalived's `fd_in` and its read thread.
struct Receiver {
    id: ChannelId,
    socket: Socket,
    family: Family,
    inbound: Sender<Input>,
    /// The channel's and the platform's stop flags.
    stop: [Arc<AtomicBool>; 2],
}

impl Receiver {
    fn run(self) {
        let mut buf = vec![0u8; 65536];
        let mut cmsg = nix::cmsg_space!(libc::in6_pktinfo, libc::c_int);
        while !self.stop.iter().any(|s| s.load(Ordering::Relaxed)) {
            let got = match self.family {
                Family::V4 => (&self.socket).read(&mut buf).map(|n| RxPacket {
                    bytes: buf[..n].to_vec(),
                    v6_addrs: None,
                    v6_hop_limit: None,
                    v6_multicast: false,
                }),
                Family::V6 => recv_v6(&self.socket, &mut buf, &mut cmsg),
            };
            match got {
                Ok(packet) => {
                    if self.inbound.send(Input::Packet(self.id, packet)).is_err() {
                        return; // The runtime is gone.
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                // E.g. ENETDOWN while the interface is down: wait and read on.
                Err(_) => std::thread::sleep(POLL),
            }
        }
    }
}

fn recv_v6(sock: &Socket, buf: &mut [u8], cmsg: &mut [u8]) -> io::Result<RxPacket> {
    let mut iov = [IoSliceMut::new(buf)];
    let msg = nix::sys::socket::recvmsg::<SockaddrIn6>(
        sock.as_raw_fd(),
        &mut iov,
        Some(cmsg),
        MsgFlags::empty(),
    )
    .map_err(io::Error::from)?;
    let len = msg.bytes;
    let src = msg.address.map(|a| a.ip());
    let mut dst = None;
    let mut hop_limit = None;
    for c in msg.cmsgs().map_err(io::Error::from)? {
        match c {
            ControlMessageOwned::Ipv6PacketInfo(info) => {
                dst = Some(Ipv6Addr::from(info.ipi6_addr.s6_addr));
            }
            ControlMessageOwned::Ipv6HopLimit(h) => hop_limit = u8::try_from(h).ok(),
            _ => {}
        }
    }
    let v6_addrs = match (src, dst) {
        (Some(s), Some(d)) => Some((IpAddr::V6(s), IpAddr::V6(d))),
        _ => None,
    };
    let bytes = iov[0][..len].to_vec();
    Ok(RxPacket {
        bytes,
        v6_addrs,
        v6_hop_limit: hop_limit,
        v6_multicast: dst.is_some_and(|d| d.is_multicast()),
    })
}

// ---------------------------------------------------------------------------------------
// The two setsockopt calls and the sockaddr_ll no safe API offers.

/// `setsockopt(fd, level, name, value, len(value))` with the option's bytes.
#[allow(unsafe_code)]
fn setsockopt_bytes(fd: BorrowedFd<'_>, level: i32, name: i32, value: &[u8]) -> io::Result<()> {
    let len = libc::socklen_t::try_from(value.len())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `fd` is a live socket borrowed for the call; `value` is an initialised byte
    // slice of `len` bytes that the kernel only reads during the call.
    let rc = unsafe { libc::setsockopt(fd.as_raw_fd(), level, name, value.as_ptr().cast(), len) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `if_setsockopt_ipv6_checksum`: `IPV6_CHECKSUM` (no safe wrapper in socket2 or nix).
fn set_ipv6_checksum(fd: BorrowedFd<'_>, offset: i32) -> io::Result<()> {
    setsockopt_bytes(
        fd,
        libc::IPPROTO_IPV6,
        libc::IPV6_CHECKSUM,
        &offset.to_ne_bytes(),
    )
}

/// `if_setsockopt_mcast_if` for IPv4: `IP_MULTICAST_IF` with a `struct ip_mreqn` naming
/// the interface by index (socket2 only takes an interface address).
fn set_multicast_if_v4_index(fd: BorrowedFd<'_>, ifindex: u32) -> io::Result<()> {
    // struct ip_mreqn { in_addr imr_multiaddr; in_addr imr_address; int imr_ifindex; }
    let mut mreqn = [0u8; 12];
    let index = i32::try_from(ifindex).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    mreqn[8..].copy_from_slice(&index.to_ne_bytes());
    setsockopt_bytes(fd, libc::IPPROTO_IP, libc::IP_MULTICAST_IF, &mreqn)
}

/// The `struct sockaddr_ll` keepalived sends GARPs and NAs to.
#[allow(unsafe_code)]
fn packet_sockaddr(ifindex: u32, protocol: u16, hw_type: u16, hw_addr: &[u8]) -> SockAddr {
    let mut storage = socket2::SockAddrStorage::zeroed();
    // SAFETY: sockaddr_ll (20 bytes) fits in the zeroed sockaddr_storage (view_as asserts
    // the size), and all of its fields are plain integers.
    let ll: &mut libc::sockaddr_ll = unsafe { storage.view_as() };
    ll.sll_family = libc::AF_PACKET as libc::sa_family_t;
    ll.sll_protocol = protocol.to_be();
    ll.sll_ifindex = i32::try_from(ifindex).unwrap_or(0);
    ll.sll_hatype = hw_type;
    let n = hw_addr.len().min(ll.sll_addr.len());
    ll.sll_halen = n as u8; // At most 8 (the length of sll_addr).
    ll.sll_addr[..n].copy_from_slice(&hw_addr[..n]);
    let len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
    // SAFETY: the storage holds an initialised sockaddr_ll with family AF_PACKET, and
    // `len` is its size.
    unsafe { SockAddr::new(storage, len) }
}

fn packet_socket(protocol: u16) -> io::Result<Socket> {
    let sock = Socket::new(
        Domain::PACKET,
        Type::RAW,
        Some(Protocol::from(i32::from(protocol.to_be()))),
    )?;
    // if_setsockopt_no_receive.
    sock.attach_filter(&[SockFilter::new(0x06, 0, 0, 0)])?;
    Ok(sock)
}

// ---------------------------------------------------------------------------------------
// Announcements

/// keepalived's gratuitous ARP (`send_gratuitous_arp_immediate`, Ethernet): 42 bytes, no
/// padding. Ethernet: destination = the interface's broadcast address, source = its MAC,
/// type 0x0806. ARP: hardware type = the interface's, protocol 0x0800, lengths 6 and 4,
/// operation 1 (REQUEST), sender = (MAC, VIP), target = (broadcast address, VIP).
pub fn garp_frame(hw_type: u16, mac: [u8; 6], broadcast: [u8; 6], vip: Ipv4Addr) -> Vec<u8> {
    let mut f = Vec::with_capacity(42);
    f.extend_from_slice(&broadcast);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&ETH_P_ARP.to_be_bytes());
    f.extend_from_slice(&hw_type.to_be_bytes());
    f.extend_from_slice(&ETH_P_IP.to_be_bytes());
    f.push(6);
    f.push(4);
    f.extend_from_slice(&ARPOP_REQUEST.to_be_bytes());
    f.extend_from_slice(&mac);
    f.extend_from_slice(&vip.octets());
    f.extend_from_slice(&broadcast);
    f.extend_from_slice(&vip.octets());
    f
}

/// keepalived's unsolicited neighbour advertisement
/// (`ndisc_send_unsolicited_na_immediate`): 86 bytes. Ethernet 33:33:00:00:00:01 from the
/// MAC, type 0x86dd; IPv6 version 6, class and flow 0, payload 32, next header 58, hop
/// limit 255, from the VIP to ff02::1; ICMPv6 type 136 code 0, checksum, flags Override
/// (and Router when the interface forwards), target = VIP; option 2 (target link-layer
/// address), length 1, the MAC.
pub fn unsolicited_na_frame(mac: [u8; 6], vip: Ipv6Addr, router: bool) -> Vec<u8> {
    let all_nodes = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
    let mut icmp = Vec::with_capacity(32);
    icmp.extend_from_slice(&[ND_NEIGHBOR_ADVERT, 0, 0, 0]);
    let flags = ND_NA_FLAG_OVERRIDE | if router { ND_NA_FLAG_ROUTER } else { 0 };
    icmp.extend_from_slice(&flags.to_be_bytes());
    icmp.extend_from_slice(&vip.octets());
    icmp.extend_from_slice(&[ND_OPT_TARGET_LINKADDR, 1]);
    icmp.extend_from_slice(&mac);
    let sum = icmpv6_checksum(&vip, &all_nodes, &icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());

    let mut f = Vec::with_capacity(86);
    f.extend_from_slice(&[0x33, 0x33, 0, 0, 0, 1]);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&ETH_P_IPV6.to_be_bytes());
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&(icmp.len() as u16).to_be_bytes()); // 32.
    f.push(IPPROTO_ICMPV6);
    f.push(255);
    f.extend_from_slice(&vip.octets());
    f.extend_from_slice(&all_nodes.octets());
    f.extend_from_slice(&icmp);
    f
}

fn icmpv6_checksum(src: &Ipv6Addr, dst: &Ipv6Addr, body: &[u8]) -> u16 {
    let mut acc: u32 = 0;
    let mut add = |bytes: &[u8]| {
        for pair in bytes.chunks(2) {
            acc += (u32::from(pair[0]) << 8) | pair.get(1).map_or(0, |b| u32::from(*b));
        }
    };
    add(&src.octets());
    add(&dst.octets());
    add(&(body.len() as u32).to_be_bytes());
    add(&[0, 0, 0, IPPROTO_ICMPV6]);
    add(body);
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

// ---------------------------------------------------------------------------------------
// Route netlink

/// keepalived's `netlink_ipaddress` request for `add` (RTM_NEWADDR) or delete.
fn address_message(a: &AddressSpec, index: u32, add: bool) -> AddressMessage {
    let mut m = AddressMessage::default();
    m.header.family = match a.addr {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    };
    m.header.prefix_len = a.prefix_len;
    m.header.scope = AddressScope::from(a.scope);
    m.header.index = index;
    m.attributes.push(AddressAttribute::Local(a.addr));
    if a.addr.is_ipv4() {
        if add {
            if let Some(b) = a.broadcast.filter(|b| !b.is_unspecified()) {
                m.attributes.push(AddressAttribute::Broadcast(b));
            }
        } else {
            // keepalived sends IFA_ADDRESS = the local address; with a peer the kernel
            // keeps the peer there, so the peer is what matches.
            m.attributes
                .push(AddressAttribute::Address(a.peer.unwrap_or(a.addr)));
        }
    }
    if add {
        let mut flags = AddressFlags::empty();
        if a.home {
            flags |= AddressFlags::Homeaddress;
        }
        if a.nodad {
            flags |= AddressFlags::Nodad;
        }
        if a.noprefixroute {
            flags |= AddressFlags::Noprefixroute;
        }
        if !flags.is_empty() {
            m.attributes.push(AddressAttribute::Flags(flags));
        }
        if let Some(label) = &a.label {
            m.attributes.push(AddressAttribute::Label(label.clone()));
        }
        if let Some(peer) = a.peer {
            m.attributes.push(AddressAttribute::Address(peer));
        }
    }
    m
}

/// The address of an RTM_NEWADDR: IFA_LOCAL when present (it differs from IFA_ADDRESS
/// only with a peer), else IFA_ADDRESS.
fn address_of(a: &AddressMessage) -> Option<IpAddr> {
    let local = a.attributes.iter().find_map(|x| match x {
        AddressAttribute::Local(l) => Some(*l),
        _ => None,
    });
    local.or_else(|| {
        a.attributes.iter().find_map(|x| match x {
            AddressAttribute::Address(l) => Some(*l),
            _ => None,
        })
    })
}

fn link_of(l: &LinkMessage) -> Link {
    let mut link = Link {
        index: l.header.index,
        flags: l.header.flags,
        hw_type: u16::from(l.header.link_layer_type),
        mac: Vec::new(),
        broadcast: Vec::new(),
    };
    for a in &l.attributes {
        match a {
            LinkAttribute::Address(mac) => link.mac.clone_from(mac),
            LinkAttribute::Broadcast(b) => link.broadcast.clone_from(b),
            _ => {}
        }
    }
    link
}

/// (name, up) of a link message; up is `IFF_UP` and `IFF_RUNNING`.
fn link_state(l: &LinkMessage) -> (String, bool) {
    let name = l
        .attributes
        .iter()
        .find_map(|a| match a {
            LinkAttribute::IfName(n) => Some(n.clone()),
            _ => None,
        })
        .unwrap_or_default();
    (
        name,
        l.header.flags.contains(LinkFlags::Up | LinkFlags::Running),
    )
}

/// A route netlink socket for requests, one at a time.
#[derive(Debug)]
struct Rtnl {
    sock: netlink_sys::Socket,
    seq: u32,
}

impl Rtnl {
    fn open() -> Result<Self, VrrpError> {
        let what = "route netlink socket";
        let mut sock =
            netlink_sys::Socket::new(NETLINK_ROUTE).map_err(|e| VrrpError::io(what, e))?;
        sock.bind_auto().map_err(|e| VrrpError::io(what, e))?;
        sock.set_ext_ack(true).ok(); // Only richer kernel error reports; optional.
        socket2::SockRef::from(&sock)
            .set_read_timeout(Some(NETLINK_TIMEOUT))
            .map_err(|e| VrrpError::io(what, e))?;
        Ok(Rtnl { sock, seq: 0 })
    }

    /// Sends `msg` with `NLM_F_REQUEST | flags` and collects the replies up to the ACK,
    /// `NLMSG_DONE` or, for a plain get, the one answer. A netlink error is an
    /// [`VrrpError::Io`] with its errno.
    fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
        what: &str,
    ) -> Result<Vec<RouteNetlinkMessage>, VrrpError> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | flags;
        header.sequence_number = seq;
        let mut nl = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(msg));
        nl.finalize();
        let mut buf = vec![0u8; nl.buffer_len()];
        nl.serialize(&mut buf);
        self.sock
            .send_to(&buf, &netlink_sys::SocketAddr::new(0, 0), 0)
            .map_err(|e| VrrpError::io(what, e))?;
        let expect_ack = flags & NLM_F_ACK != 0;
        let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        let mut out = Vec::new();
        loop {
            let (data, _) = self
                .sock
                .recv_from_full()
                .map_err(|e| VrrpError::io(what, e))?;
            for (msg_seq, payload) in parse_netlink(&data) {
                if msg_seq != seq {
                    continue; // An answer to an earlier request that timed out.
                }
                match payload {
                    NetlinkPayload::Done(_) => return Ok(out),
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            None => Ok(out),
                            Some(code) => Err(VrrpError::io(
                                what,
                                io::Error::from_raw_os_error(-code.get()),
                            )),
                        }
                    }
                    NetlinkPayload::InnerMessage(m) => {
                        out.push(m);
                        if !dump && !expect_ack {
                            return Ok(out);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

/// The messages of one netlink datagram as (sequence number, payload). A message this
/// version of netlink-packet-route cannot decode is skipped, not fatal.
fn parse_netlink(data: &[u8]) -> Vec<(u32, NetlinkPayload<RouteNetlinkMessage>)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let Ok(buf) = NetlinkBuffer::new_checked(&data[at..]) else {
            break;
        };
        let len = buf.length() as usize;
        if len == 0 || at + len > data.len() {
            break;
        }
        if let Ok(m) = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&data[at..at + len]) {
            out.push((m.header.sequence_number, m.payload));
        }
        at += (len + 3) & !3;
    }
    out
}

/// The `RTMGRP_LINK` listener.
struct LinkWatch {
    sock: netlink_sys::Socket,
    /// Interface index -> (name, up).
    state: HashMap<u32, (String, bool)>,
    inbound: Sender<Input>,
    stop: Arc<AtomicBool>,
}

impl LinkWatch {
    fn run(mut self) {
        while !self.stop.load(Ordering::Relaxed) {
            let data = match self.sock.recv_from_full() {
                Ok((data, _)) => data,
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    // Notifications were lost: ask for every link again; the answers
                    // arrive here as RTM_NEWLINK like the notifications.
                    self.resync();
                    continue;
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) =>
                {
                    continue
                }
                Err(_) => {
                    std::thread::sleep(POLL);
                    continue;
                }
            };
            for (_, payload) in parse_netlink(&data) {
                let NetlinkPayload::InnerMessage(m) = payload else {
                    continue;
                };
                let (index, name, up) = match &m {
                    RouteNetlinkMessage::NewLink(l) | RouteNetlinkMessage::DelLink(l) => {
                        let (name, up) = link_state(l);
                        let gone = matches!(m, RouteNetlinkMessage::DelLink(_));
                        (l.header.index, name, up && !gone)
                    }
                    _ => continue,
                };
                let was = self.state.get(&index).is_some_and(|(_, up)| *up);
                if matches!(m, RouteNetlinkMessage::DelLink(_)) {
                    self.state.remove(&index);
                } else {
                    self.state.insert(index, (name.clone(), up));
                }
                if was != up
                    && self
                        .inbound
                        .send(Input::Link {
                            interface: name,
                            up,
                        })
                        .is_err()
                {
                    return; // The runtime is gone.
                }
            }
        }
    }

    fn resync(&mut self) {
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_DUMP;
        let mut nl = NetlinkMessage::new(
            header,
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::GetLink(LinkMessage::default())),
        );
        nl.finalize();
        let mut buf = vec![0u8; nl.buffer_len()];
        nl.serialize(&mut buf);
        // A failed resync leaves the state as it was; the next change corrects it.
        let _ = self
            .sock
            .send_to(&buf, &netlink_sys::SocketAddr::new(0, 0), 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garp_is_keepalived_s() {
        let f = garp_frame(
            1,
            [2, 0, 0, 0, 0, 0xa],
            [0xff; 6],
            Ipv4Addr::new(192, 0, 2, 100),
        );
        assert_eq!(f.len(), 42);
        assert_eq!(&f[12..14], &[0x08, 0x06]);
        assert_eq!(&f[20..22], &[0, 1], "REQUEST");
        assert_eq!(&f[32..38], &[0xff; 6], "target MAC = broadcast");
    }

    #[test]
    fn na_checksum_verifies() {
        let vip: Ipv6Addr = "2001:db8::100".parse().expect("v6");
        let f = unsolicited_na_frame([2, 0, 0, 0, 0, 0xa], vip, false);
        assert_eq!(f.len(), 86);
        let all_nodes = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
        // Summing with the checksum in place gives 0.
        let body = &f[54..];
        let mut zeroed = body.to_vec();
        zeroed[2] = 0;
        zeroed[3] = 0;
        let sum = icmpv6_checksum(&vip, &all_nodes, &zeroed);
        assert_eq!(sum.to_be_bytes(), [body[2], body[3]]);
        assert_eq!(&body[4..8], &[0x20, 0, 0, 0], "override only");
    }
}
