//! `LinuxPlatform` against a real kernel, in network namespaces the tests make themselves
//! (`hacpl-<pid>-<n>`, a veth pair `va` / `vb` between two of them, addresses only in
//! there) and always delete (a drop guard, so also on panic). Each platform runs in its
//! namespace by being created on a thread that entered it (`setns`): its sockets belong
//! there wherever they are used from afterwards. Needs root; skipped otherwise.
#![cfg(target_os = "linux")]

use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use nix::sched::CloneFlags;
use socket2::{Domain, Protocol, Socket, Type};
use vrrp_engine::codec::{self, Advert, ChecksumMode, Family, Version, WireAuth};
use vrrp_engine::linux::LinuxPlatform;
use vrrp_engine::platform::{AddressSpec, ChannelId, ChannelSpec, Input, Platform, RxPacket};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// Whether the tests can run here; prints why not.
fn can_run() -> bool {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIP linux_platform: needs root (network namespaces, raw sockets)");
        return false;
    }
    true
}

fn run(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A network namespace, deleted on drop (with the interfaces in it).
struct Ns {
    name: String,
}

impl Ns {
    fn new() -> Ns {
        let name = format!(
            "hacpl-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        run(&["ip", "netns", "add", &name]);
        let ns = Ns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        // No DAD: link-local addresses are usable at once.
        for key in ["all", "default"] {
            run(&[
                "ip",
                "netns",
                "exec",
                &ns.name,
                "sysctl",
                "-qw",
                &format!("net.ipv6.conf.{key}.accept_dad=0"),
            ]);
        }
        ns
    }

    /// `ip -n NS args...`, stdout.
    fn ip(&self, args: &[&str]) -> String {
        let mut all = vec!["ip", "-n", &self.name];
        all.extend_from_slice(args);
        run(&all)
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["-j"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.ip(&all)).expect("ip -j output")
    }

    /// Runs `f` on a thread inside this namespace.
    fn enter<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        let path = format!("/run/netns/{}", self.name);
        std::thread::scope(|s| {
            s.spawn(|| {
                let fd = std::fs::File::open(&path).expect("netns file");
                nix::sched::setns(&fd, CloneFlags::CLONE_NEWNET).expect("setns");
                f()
            })
            .join()
            .expect("thread in namespace")
        })
    }

    fn platform(&self) -> LinuxPlatform {
        self.enter(|| LinuxPlatform::new().expect("LinuxPlatform::new"))
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Two namespaces joined by a veth pair: `va` (192.0.2.1/24) in `a`, `vb` (192.0.2.2/24)
/// in `b`, both up.
struct Lab {
    a: Ns,
    b: Ns,
}

impl Lab {
    fn new() -> Lab {
        let lab = Lab {
            a: Ns::new(),
            b: Ns::new(),
        };
        lab.a.ip(&[
            "link",
            "add",
            "va",
            "type",
            "veth",
            "peer",
            "name",
            "vb",
            "netns",
            &lab.b.name,
        ]);
        lab.a.ip(&["addr", "add", "192.0.2.1/24", "dev", "va"]);
        lab.b.ip(&["addr", "add", "192.0.2.2/24", "dev", "vb"]);
        lab.a.ip(&["link", "set", "va", "up"]);
        lab.b.ip(&["link", "set", "vb", "up"]);
        lab
    }
}

fn link_local(ns: &Ns, dev: &str) -> Ipv6Addr {
    let v = ns.json(&["-6", "addr", "show", "dev", dev, "scope", "link"]);
    v[0]["addr_info"][0]["local"]
        .as_str()
        .expect("a link-local address")
        .parse()
        .expect("v6")
}

fn mac_of(ns: &Ns, dev: &str) -> [u8; 6] {
    let v = ns.json(&["link", "show", "dev", dev]);
    let s = v[0]["address"].as_str().expect("address");
    let bytes: Vec<u8> = s
        .split(':')
        .map(|h| u8::from_str_radix(h, 16).expect("hex"))
        .collect();
    bytes.try_into().expect("6 bytes")
}

fn spec(addr: &str, prefix_len: u8) -> AddressSpec {
    AddressSpec {
        interface: "va".into(),
        addr: addr.parse().expect("address"),
        prefix_len,
        broadcast: None,
        scope: 0,
        label: None,
        peer: None,
        home: false,
        nodad: false,
        noprefixroute: false,
    }
}

/// The `addr_info` entry of `local` on `dev`, if any.
fn addr_info(ns: &Ns, dev: &str, local: &str) -> Option<serde_json::Value> {
    let v = ns.json(&["addr", "show", "dev", dev]);
    v[0]["addr_info"]
        .as_array()
        .expect("addr_info")
        .iter()
        .find(|a| a["local"] == local)
        .cloned()
}

#[test]
fn addresses_add_remove_has() {
    if !can_run() {
        return;
    }
    let lab = Lab::new();
    let mut p = lab.a.platform();

    let vip = AddressSpec {
        broadcast: Some(Ipv4Addr::new(192, 0, 2, 255)),
        label: Some("va:vip".into()),
        ..spec("192.0.2.100", 24)
    };
    assert!(!p.has_address("va", vip.addr).expect("has"));
    p.add_address(&vip).expect("add");
    p.add_address(&vip)
        .expect("adding it again is not an error (EEXIST)");
    assert!(p.has_address("va", vip.addr).expect("has"));
    let info = addr_info(&lab.a, "va", "192.0.2.100").expect("on va");
    assert_eq!(info["prefixlen"], 24);
    assert_eq!(info["broadcast"], "192.0.2.255");
    assert_eq!(info["scope"], "global");
    assert_eq!(info["label"], "va:vip");

    let host = AddressSpec {
        scope: 254,
        ..spec("192.0.2.101", 32)
    };
    p.add_address(&host).expect("add scope host");
    let info = addr_info(&lab.a, "va", "192.0.2.101").expect("on va");
    assert_eq!(info["scope"], "host");
    assert_eq!(info["label"], "va");

    let peer = AddressSpec {
        peer: Some("192.0.2.201".parse().expect("v4")),
        ..spec("192.0.2.200", 32)
    };
    p.add_address(&peer).expect("add with peer");
    let info = addr_info(&lab.a, "va", "192.0.2.200").expect("on va");
    assert_eq!(info["address"], "192.0.2.201");
    assert!(p.has_address("va", peer.addr).expect("has"));
    assert!(!p
        .has_address("va", "192.0.2.201".parse().expect("v4"))
        .expect("has"));

    let v6 = AddressSpec {
        nodad: true,
        noprefixroute: true,
        home: true,
        ..spec("2001:db8::100", 64)
    };
    p.add_address(&v6).expect("add v6");
    let info = addr_info(&lab.a, "va", "2001:db8::100").expect("on va");
    assert_eq!(info["prefixlen"], 64);
    assert_eq!(info["nodad"], true);
    assert_eq!(info["noprefixroute"], true);
    assert_eq!(info["home"], true);
    assert!(p.has_address("va", v6.addr).expect("has"));

    for a in [&vip, &host, &peer, &v6] {
        p.remove_address(a).expect("remove");
        assert!(!p.has_address("va", a.addr).expect("has"), "{}", a.addr);
        assert!(addr_info(&lab.a, "va", &a.addr.to_string()).is_none());
        p.remove_address(a)
            .expect("removing it again is not an error");
    }
    // The interface's own address is untouched.
    assert!(addr_info(&lab.a, "va", "192.0.2.1").is_some());

    let missing = AddressSpec {
        interface: "nosuch0".into(),
        ..spec("192.0.2.100", 24)
    };
    assert!(matches!(
        p.add_address(&missing),
        Err(vrrp_engine::VrrpError::NoInterface(_))
    ));
    p.remove_address(&missing)
        .expect("removing from a missing interface is not an error");
    assert!(!p.has_address("nosuch0", missing.addr).expect("has"));
}

#[test]
fn interface_facts() {
    if !can_run() {
        return;
    }
    let lab = Lab::new();
    let mut p = lab.a.platform();
    let info = p.interface("va").expect("va");
    let link = lab.a.json(&["link", "show", "dev", "va"]);
    assert_eq!(
        u64::from(info.index),
        link[0]["ifindex"].as_u64().expect("ifindex")
    );
    assert!(info.up);
    assert_eq!(info.mac, mac_of(&lab.a, "va").to_vec());
    assert_eq!(info.ipv4, Some(Ipv4Addr::new(192, 0, 2, 1)));
    assert_eq!(info.ipv6_link_local, Some(link_local(&lab.a, "va")));

    lab.a.ip(&["link", "set", "va", "down"]);
    let down = p.interface("va").expect("va");
    assert!(!down.up);
    assert_eq!(down.ipv6_link_local, None, "link-local goes with the link");
    assert!(matches!(
        p.interface("nosuch0"),
        Err(vrrp_engine::VrrpError::NoInterface(_))
    ));
}

fn v3_advert(vrid: u8, addresses: Vec<IpAddr>) -> Advert {
    Advert {
        version: Version::V3,
        kind: 1,
        vrid,
        priority: 100,
        interval: 100,
        auth: WireAuth::None,
        addresses,
    }
}

/// A whole IPv4 packet as the engine hands it to `send`: TOS 0xc0, TTL 255, protocol 112,
/// id set and the header checksum right (so the kernel changes nothing).
fn ipv4_packet(src: Ipv4Addr, dst: Ipv4Addr, payload: &[u8]) -> Vec<u8> {
    let total = (20 + payload.len()) as u16;
    let mut h = vec![0x45, 0xc0];
    h.extend_from_slice(&total.to_be_bytes());
    h.extend_from_slice(&[0x12, 0x34, 0, 0, 255, 112, 0, 0]);
    h.extend_from_slice(&src.octets());
    h.extend_from_slice(&dst.octets());
    let mut sum: u32 = h
        .chunks(2)
        .map(|w| (u32::from(w[0]) << 8) | u32::from(w[1]))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    h[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    h.extend_from_slice(payload);
    h
}

/// The next packet of `channel` within `wait`, skipping other inputs.
fn next_packet(rx: &Receiver<Input>, channel: ChannelId, wait: Duration) -> Option<RxPacket> {
    let end = Instant::now() + wait;
    loop {
        let left = end.checked_duration_since(Instant::now())?;
        match rx.recv_timeout(left) {
            Ok(Input::Packet(id, p)) if id == channel => return Some(p),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
}

fn channel_spec(
    iface: &str,
    family: Family,
    group: Option<&str>,
    source: IpAddr,
    kernel_checksum: bool,
) -> ChannelSpec {
    ChannelSpec {
        interface: iface.into(),
        family,
        protocol: 112,
        multicast_group: group.map(|g| g.parse().expect("group")),
        source,
        kernel_checksum,
    }
}

#[test]
fn ipv4_channels_multicast_and_unicast() {
    if !can_run() {
        return;
    }
    let lab = Lab::new();
    let (a_ip, b_ip) = (Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 2));
    let group = Ipv4Addr::new(224, 0, 0, 18);
    let (a_tx, a_rx) = mpsc::channel();
    let (b_tx, b_rx) = mpsc::channel();
    let (mut pa, a_mc) = lab.a.enter(|| {
        let mut p = LinuxPlatform::new().expect("platform");
        let spec = channel_spec("va", Family::V4, Some("224.0.0.18"), a_ip.into(), false);
        let id = p.open_channel(&spec, a_tx).expect("channel");
        (p, id)
    });
    let (_pb, b_mc, b_uc) = lab.b.enter(|| {
        let mut p = LinuxPlatform::new().expect("platform");
        let mc = channel_spec("vb", Family::V4, Some("224.0.0.18"), b_ip.into(), false);
        let uc = channel_spec("vb", Family::V4, None, b_ip.into(), false);
        let m = p
            .open_channel(&mc, b_tx.clone())
            .expect("multicast channel");
        let u = p.open_channel(&uc, b_tx).expect("unicast channel");
        (p, m, u)
    });

    let adv = v3_advert(51, vec!["192.0.2.100".parse().expect("v4")]);
    let payload =
        codec::encode(&adv, a_ip.into(), group.into(), ChecksumMode::Standard).expect("encode");
    let packet = ipv4_packet(a_ip, group, &payload);
    pa.send(a_mc, group.into(), &packet)
        .expect("send multicast");
    let got = next_packet(&b_rx, b_mc, Duration::from_secs(3)).expect("multicast arrives");
    assert_eq!(got.bytes, packet, "the whole IPv4 packet, TTL 255, as sent");
    assert_eq!(got.bytes[8], 255);
    assert_eq!(
        (got.v6_addrs, got.v6_hop_limit, got.v6_multicast),
        (None, None, false)
    );

    let payload =
        codec::encode(&adv, a_ip.into(), b_ip.into(), ChecksumMode::Standard).expect("encode");
    let unicast = ipv4_packet(a_ip, b_ip, &payload);
    pa.send(a_mc, b_ip.into(), &unicast).expect("send unicast");
    let got = next_packet(&b_rx, b_uc, Duration::from_secs(3)).expect("unicast arrives");
    assert_eq!(got.bytes, unicast);

    // Bound to the group / the unicast address: neither channel sees the other's packets;
    // with the multicast loop off, our own adverts never come back.
    std::thread::sleep(Duration::from_millis(300));
    let mut extra = Vec::new();
    while let Ok(i) = b_rx.try_recv() {
        extra.push(i);
    }
    assert!(extra.is_empty(), "unexpected inputs in b: {extra:?}");
    assert!(a_rx.try_recv().is_err(), "a's own multicast came back");

    // Other protocols never arrive on a protocol 112 channel.
    let other = lab.a.enter(|| {
        let s = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(51))).expect("raw 51");
        s.bind_device(Some(b"va")).expect("bind");
        s
    });
    other
        .send_to(&payload, &std::net::SocketAddr::from((b_ip, 0)).into())
        .expect("send protocol 51");
    assert!(next_packet(&b_rx, b_uc, Duration::from_millis(500)).is_none());
}

#[test]
fn ipv6_channels() {
    if !can_run() {
        return;
    }
    let lab = Lab::new();
    let (a_ll, b_ll) = (link_local(&lab.a, "va"), link_local(&lab.b, "vb"));
    let group: Ipv6Addr = "ff02::12".parse().expect("v6");
    let (a_tx, a_rx) = mpsc::channel();
    let (b_tx, b_rx) = mpsc::channel();
    let (mut pa, a_mc) = lab.a.enter(|| {
        let mut p = LinuxPlatform::new().expect("platform");
        let spec = channel_spec("va", Family::V6, Some("ff02::12"), a_ll.into(), true);
        let id = p.open_channel(&spec, a_tx).expect("channel");
        (p, id)
    });
    let (_pb, b_mc, b_uc) = lab.b.enter(|| {
        let mut p = LinuxPlatform::new().expect("platform");
        let mc = channel_spec("vb", Family::V6, Some("ff02::12"), b_ll.into(), true);
        let uc = channel_spec("vb", Family::V6, None, b_ll.into(), true);
        let m = p
            .open_channel(&mc, b_tx.clone())
            .expect("multicast channel");
        let u = p.open_channel(&uc, b_tx).expect("unicast channel");
        (p, m, u)
    });

    let adv = v3_advert(51, vec!["2001:db8::100".parse().expect("v6")]);
    let payload =
        codec::encode(&adv, a_ll.into(), group.into(), ChecksumMode::Standard).expect("encode");
    // The kernel fills the checksum (IPV6_CHECKSUM 6): send it zeroed.
    let mut zeroed = payload.clone();
    zeroed[6..8].copy_from_slice(&[0, 0]);
    pa.send(a_mc, group.into(), &zeroed)
        .expect("send multicast");
    let got = next_packet(&b_rx, b_mc, Duration::from_secs(3)).expect("multicast arrives");
    assert_eq!(got.bytes, payload, "the payload with the kernel's checksum");
    assert_eq!(got.v6_addrs, Some((a_ll.into(), group.into())));
    assert_eq!(got.v6_hop_limit, Some(255));
    assert!(got.v6_multicast);

    let payload =
        codec::encode(&adv, a_ll.into(), b_ll.into(), ChecksumMode::Standard).expect("encode");
    pa.send(a_mc, b_ll.into(), &payload).expect("send unicast");
    let got = next_packet(&b_rx, b_uc, Duration::from_secs(3)).expect("unicast arrives");
    assert_eq!(got.bytes, payload);
    assert_eq!(got.v6_addrs, Some((a_ll.into(), b_ll.into())));
    assert_eq!(got.v6_hop_limit, Some(255));
    assert!(!got.v6_multicast);

    // A wrong checksum is dropped by the kernel (IPV6_CHECKSUM on the read socket).
    let mut bad = payload.clone();
    bad[6] ^= 0xff;
    let raw = lab.a.enter(|| {
        let s = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::from(112))).expect("raw");
        s.bind_device(Some(b"va")).expect("bind");
        s.set_unicast_hops_v6(255).expect("hops");
        s
    });
    let a_va = lab.a.json(&["link", "show", "dev", "va"])[0]["ifindex"]
        .as_u64()
        .expect("ifindex") as u32;
    raw.send_to(&bad, &std::net::SocketAddrV6::new(b_ll, 0, 0, a_va).into())
        .expect("send bad checksum");
    assert!(next_packet(&b_rx, b_uc, Duration::from_millis(500)).is_none());
    // ... while the same packet with its checksum right arrives.
    raw.send_to(
        &payload,
        &std::net::SocketAddrV6::new(b_ll, 0, 0, a_va).into(),
    )
    .expect("send good checksum");
    let got = next_packet(&b_rx, b_uc, Duration::from_secs(3)).expect("good one arrives");
    assert_eq!(got.bytes, payload);

    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !std::iter::from_fn(|| a_rx.try_recv().ok()).any(|i| matches!(i, Input::Packet(..))),
        "a's own multicast came back"
    );
}

/// The first frame read from `sock` within `wait` that `pick` accepts.
fn read_frame(sock: &Socket, wait: Duration, pick: impl Fn(&[u8]) -> bool) -> Option<Vec<u8>> {
    let end = Instant::now() + wait;
    let mut buf = [0u8; 2048];
    while Instant::now() < end {
        if let Ok(n) = (&*sock).read(&mut buf) {
            if pick(&buf[..n]) {
                return Some(buf[..n].to_vec());
            }
        }
    }
    None
}

fn packet_reader(ns: &Ns, ethertype: u16) -> Socket {
    ns.enter(|| {
        let s = Socket::new(
            Domain::PACKET,
            Type::RAW,
            Some(Protocol::from(i32::from(ethertype.to_be()))),
        )
        .expect("packet socket");
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        s
    })
}

#[test]
fn announce_garp_and_na_bytes() {
    if !can_run() {
        return;
    }
    let lab = Lab::new();
    let mut p = lab.a.platform();
    let mac = mac_of(&lab.a, "va");
    let arp = packet_reader(&lab.b, 0x0806);
    let ipv6 = packet_reader(&lab.b, 0x86dd);

    let vip = Ipv4Addr::new(192, 0, 2, 100);
    p.announce("va", vip.into()).expect("GARP");
    let frame = read_frame(&arp, Duration::from_secs(3), |f| {
        f.len() >= 42 && f[28..32] == vip.octets()
    })
    .expect("GARP seen in b");
    // keepalived's vrrp_arp.c, byte for byte: 42 bytes, no padding from keepalived.
    let mut want = vec![0xff; 6];
    want.extend_from_slice(&mac);
    want.extend_from_slice(&[0x08, 0x06]); // ETHERTYPE_ARP
    want.extend_from_slice(&[0x00, 0x01, 0x08, 0x00, 6, 4]); // Ethernet, IPv4, 6, 4
    want.extend_from_slice(&[0x00, 0x01]); // ARPOP_REQUEST
    want.extend_from_slice(&mac); // sender MAC
    want.extend_from_slice(&vip.octets()); // sender IP = VIP
    want.extend_from_slice(&[0xff; 6]); // target MAC = broadcast
    want.extend_from_slice(&vip.octets()); // target IP = VIP
    assert_eq!(frame, want);

    let vip6: Ipv6Addr = "2001:db8::100".parse().expect("v6");
    p.announce("va", vip6.into()).expect("NA");
    let frame = read_frame(&ipv6, Duration::from_secs(3), |f| {
        f.len() >= 78 && f[20] == 58 && f[54] == 136 && f[62..78] == vip6.octets()
    })
    .expect("NA seen in b");
    let all_nodes: Ipv6Addr = "ff02::1".parse().expect("v6");
    let mut icmp = vec![136, 0, 0, 0, 0x20, 0, 0, 0]; // NA, Override, not Router
    icmp.extend_from_slice(&vip6.octets());
    icmp.extend_from_slice(&[2, 1]); // target link-layer address, 8 bytes
    icmp.extend_from_slice(&mac);
    let mut pseudo = Vec::new();
    pseudo.extend_from_slice(&vip6.octets());
    pseudo.extend_from_slice(&all_nodes.octets());
    pseudo.extend_from_slice(&[0, 0, 0, 32, 0, 0, 0, 58]);
    pseudo.extend_from_slice(&icmp);
    let mut sum: u32 = pseudo
        .chunks(2)
        .map(|w| (u32::from(w[0]) << 8) | u32::from(w[1]))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    icmp[2..4].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    let mut want = vec![0x33, 0x33, 0, 0, 0, 1];
    want.extend_from_slice(&mac);
    want.extend_from_slice(&[0x86, 0xdd]);
    want.extend_from_slice(&[0x60, 0, 0, 0, 0, 32, 58, 255]);
    want.extend_from_slice(&vip6.octets());
    want.extend_from_slice(&all_nodes.octets());
    want.extend_from_slice(&icmp);
    assert_eq!(frame, want);
}

#[test]
fn link_watch_reports_changes_once() {
    if !can_run() {
        return;
    }
    let lab = Lab::new();
    let (tx, rx) = mpsc::channel();
    let _p = lab.a.enter(|| {
        let mut p = LinuxPlatform::new().expect("platform");
        p.watch_links(tx).expect("watch");
        p
    });
    let next_link = |wait| loop {
        match rx.recv_timeout(wait) {
            Ok(Input::Link { interface, up }) => return Some((interface, up)),
            Ok(_) => {}
            Err(_) => return None,
        }
    };
    lab.a.ip(&["link", "set", "va", "down"]);
    assert_eq!(
        next_link(Duration::from_secs(3)),
        Some(("va".to_string(), false))
    );
    lab.a.ip(&["link", "set", "va", "up"]);
    assert_eq!(
        next_link(Duration::from_secs(3)),
        Some(("va".to_string(), true))
    );
    // A change that leaves up/down as it was is no event.
    lab.a.ip(&["link", "set", "va", "mtu", "1400"]);
    assert_eq!(next_link(Duration::from_millis(500)), None);
}
