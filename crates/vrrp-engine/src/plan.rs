//! From the typed configuration to what the runtime runs: for each `vrrp_instance`, the
//! state machine's [`InstanceParams`], the [`ChannelSpec`] it sends and receives on, where
//! its adverts go, the advert it sends, and its addresses as [`AddressSpec`]s; the sync
//! groups over the instances, with what keepalived does to the tracking of their members.
//! Pure: the facts about interfaces come in as [`InterfaceInfo`]s.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use keepalived_conf::model::{
    Authentication, Broadcast, KeepalivedConfig, Scope, TrackRef, VirtualIp, VrrpInstance,
    VrrpVersion,
};

use crate::ah;
use crate::codec::{Advert, ChecksumMode, Family, Version, IPPROTO_AH, IPPROTO_VRRP};
use crate::error::VrrpError;
use crate::machine::{InstanceParams, Tracked, TrackedKind};
use crate::platform::{AddressSpec, ChannelSpec, InterfaceInfo};
use crate::rx::{Auth, Expected};
use crate::sync_group::GroupParams;
use crate::track::{TrackerKind, TrackerTable};

/// Everything the runtime needs to run one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstancePlan {
    /// The state machine's parameters.
    pub params: InstanceParams,
    /// The channel to open.
    pub channel: ChannelSpec,
    /// Where adverts go: the multicast group, or every unicast peer.
    pub destinations: Vec<IpAddr>,
    /// The advert sent (its priority is set at each send).
    pub advert: Advert,
    /// `auth_type AH`: the key (first 8 bytes of `auth_pass`, zero padded).
    pub ah_key: Option<ah::Key>,
    /// `virtual_ipaddress` and `virtual_ipaddress_excluded`, as set on becoming master.
    pub addresses: Vec<AddressSpec>,
}

/// Options from the command line that change what instances do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PlanOptions {
    /// `-D`: keepalived's detailed log lines.
    pub log_detail: bool,
}

/// A keyword the engine refuses to run, and where it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The keyword's place in the configuration (`None` if the model has none).
    pub span: Option<conf_diag::Span>,
    /// What is refused: `(VI_1) use_vmac: not implemented yet`.
    pub message: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}; ha-compat refuses to run rather than ignore it",
            self.message
        )
    }
}

/// What the configuration asks for that the running engine does not do yet and that
/// changes routing or failover: running without it would silently do something else, so
/// the engine refuses to start (the configuration test still accepts it, as keepalived).
pub fn not_runnable(config: &KeepalivedConfig) -> Vec<Refusal> {
    let mut out = Vec::new();
    for i in &config.instances {
        if !i.virtual_routes.is_empty() {
            out.push(Refusal {
                span: i.virtual_routes_span.or(i.span),
                message: format!("({}) virtual_routes: not implemented yet", i.name),
            });
        }
        if i.use_vmac.is_some() {
            out.push(Refusal {
                span: i.use_vmac_span.or(i.span),
                message: format!("({}) use_vmac: not implemented yet", i.name),
            });
        }
    }
    out
}

/// What the runtime runs: every instance and the sync groups over them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodePlan {
    /// One plan per `vrrp_instance`, in configuration order.
    pub instances: Vec<InstancePlan>,
    /// The sync groups, members as indices into `instances`.
    pub groups: Vec<GroupParams>,
    /// keepalived's configuration messages about what it changed to run this (weights
    /// dropped in sync groups...), to log at start.
    pub warnings: Vec<String>,
}

/// Plans every instance of `config`. `interfaces` holds what is known of each interface
/// an instance names (an instance whose interface is missing is an error, as keepalived
/// refuses to start it).
pub fn plan(
    config: &KeepalivedConfig,
    table: &TrackerTable,
    interfaces: &BTreeMap<String, InterfaceInfo>,
    options: PlanOptions,
) -> Result<NodePlan, VrrpError> {
    if let Some(first) = not_runnable(config).into_iter().next() {
        return Err(VrrpError::Plan(first.to_string()));
    }
    let mut warnings = Vec::new();
    let (groups, tracking) = plan_groups(config, &mut warnings);
    let instances = config
        .instances
        .iter()
        .zip(&tracking)
        .map(|(i, g)| {
            plan_instance(
                config,
                i,
                g.as_ref(),
                table,
                interfaces,
                options,
                &mut warnings,
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(NodePlan {
        instances,
        groups,
        warnings,
    })
}

fn plan_instance(
    config: &KeepalivedConfig,
    inst: &VrrpInstance,
    sync: Option<&GroupTracking>,
    table: &TrackerTable,
    interfaces: &BTreeMap<String, InterfaceInfo>,
    options: PlanOptions,
    warnings: &mut Vec<String>,
) -> Result<InstancePlan, VrrpError> {
    let info = interfaces.get(&inst.interface).ok_or_else(|| {
        VrrpError::Plan(format!(
            "({}) interface {} does not exist",
            inst.name, inst.interface
        ))
    })?;
    let family = inst
        .virtual_ipaddresses
        .first()
        .map(|v| Family::of(&v.addr))
        .or(inst.unicast_src_ip.as_ref().map(Family::of))
        .or(inst.unicast_peers.first().map(|p| Family::of(&p.addr)))
        .unwrap_or(Family::V4);
    let version = match inst.version {
        VrrpVersion::V2 => Version::V2,
        VrrpVersion::V3 => Version::V3,
    };
    let source = inst
        .unicast_src_ip
        .or(inst.mcast_src_ip)
        .or(match family {
            Family::V4 => info.ipv4.map(IpAddr::V4),
            Family::V6 => info.ipv6_link_local.map(IpAddr::V6),
        })
        .ok_or_else(|| {
            VrrpError::Plan(format!(
                "({}) interface {} has no {} address to send adverts from",
                inst.name,
                inst.interface,
                match family {
                    Family::V4 => "IPv4",
                    Family::V6 => "IPv6 link-local",
                }
            ))
        })?;
    let unicast_peers: Vec<IpAddr> = inst.unicast_peers.iter().map(|p| p.addr).collect();
    let group = match family {
        Family::V4 => IpAddr::V4(config.global.vrrp_mcast_group4),
        Family::V6 => IpAddr::V6(config.global.vrrp_mcast_group6),
    };
    let auth = match (&inst.authentication, version, family) {
        (Some(Authentication::Pass(p)), Version::V2, Family::V4) => Auth::pass(p.as_bytes()),
        // keepalived ignores AH for v3 and for IPv6 (its configuration check).
        (Some(Authentication::Ah(p)), Version::V2, Family::V4) => Auth::ah(p.as_bytes()),
        _ => Auth::None,
    };
    let wire_auth = auth.wire();
    let ah_key = match &auth {
        Auth::Ah(key) => Some(key.clone()),
        _ => None,
    };
    let vips: Vec<IpAddr> = inst
        .virtual_ipaddresses
        .iter()
        .map(|v| v.addr)
        .filter(|a| Family::of(a) == family)
        .collect();
    let interval = match version {
        // keepalived keeps v2 intervals in whole seconds on the wire.
        Version::V2 => u16::try_from(inst.advert_int.as_secs()).unwrap_or(u16::MAX),
        Version::V3 => u16::try_from(inst.advert_int.as_millis() / 10).unwrap_or(u16::MAX),
    };
    let advert_int = match version {
        Version::V2 => Duration::from_secs(u64::from(interval)),
        Version::V3 => Duration::from_millis(u64::from(interval) * 10),
    };
    let expected = Expected {
        name: inst.name.clone(),
        family,
        version,
        auth,
        interval_centis: u32::from(interval) * if version == Version::V2 { 100 } else { 1 },
        vips: vips.clone(),
        unicast_peers: unicast_peers.clone(),
        check_unicast_src: config.global.vrrp_check_unicast_src,
        checksum_mode: ChecksumMode::Standard,
    };
    let mut specs = Vec::new();
    if !inst.dont_track_primary {
        specs.push(TrackSpec {
            kind: TrackerKind::Interface(inst.interface.clone()),
            weight: 0,
            reverse: false,
        });
    }
    let own = track_specs(
        config,
        &inst.track_interfaces,
        &inst.track_scripts,
        &inst.track_processes,
        &inst.track_files,
    );
    match sync {
        Some(g) if !g.keeps_weights => {
            specs.extend(drop_member_weights(&inst.name, own, warnings));
        }
        _ => specs.extend(own),
    }
    if let Some(g) = sync {
        specs.extend(g.trackers.iter().cloned());
    }
    let tracked = specs
        .into_iter()
        .filter_map(|s| {
            let id = table.id(&s.kind)?;
            let (kind, name) = match &s.kind {
                TrackerKind::Script(n) => (TrackedKind::Script, n.clone()),
                TrackerKind::Process(n) => (TrackedKind::Process, n.clone()),
                TrackerKind::File(n) => (TrackedKind::File, n.clone()),
                TrackerKind::Interface(n) => (
                    TrackedKind::Interface {
                        index: interfaces.get(n).map_or(0, |i| i.index),
                    },
                    n.clone(),
                ),
            };
            Some(Tracked {
                id,
                kind,
                name,
                weight: s.weight,
                reverse: s.reverse,
            })
        })
        .collect();
    let garp = &inst.garp;
    let params = InstanceParams {
        name: inst.name.clone(),
        interface: inst.interface.clone(),
        vrid: inst.vrid.get(),
        version,
        base_priority: inst.priority.get(),
        advert_int,
        want_master: inst.initial_state == keepalived_conf::model::InitialState::Master,
        nopreempt: inst.nopreempt,
        preempt_delay: inst.preempt_delay,
        source,
        vips: inst
            .virtual_ipaddresses
            .iter()
            .chain(&inst.virtual_ipaddresses_excluded)
            .map(|v| v.addr)
            .collect(),
        excluded_vips: inst.virtual_ipaddresses_excluded.len(),
        garp_repeat: garp.master_repeat,
        garp_delay: garp.master_delay,
        garp_refresh: garp.master_refresh,
        garp_refresh_repeat: garp.master_refresh_repeat,
        garp_lower_prio_repeat: garp.lower_prio_repeat.unwrap_or(0),
        skip_check_adv_addr: inst.skip_check_adv_addr || config.global.vrrp_skip_check_adv_addr,
        log_detail: options.log_detail,
        expected,
        tracked,
    };
    let channel = ChannelSpec {
        interface: inst.interface.clone(),
        family,
        protocol: if ah_key.is_some() {
            IPPROTO_AH
        } else {
            IPPROTO_VRRP
        },
        multicast_group: unicast_peers.is_empty().then_some(group),
        source,
        kernel_checksum: family == Family::V6,
    };
    let destinations = if unicast_peers.is_empty() {
        vec![group]
    } else {
        unicast_peers
    };
    let advert = Advert {
        version,
        kind: crate::codec::TYPE_ADVERTISEMENT,
        vrid: inst.vrid.get(),
        priority: inst.priority.get(),
        interval,
        auth: wire_auth,
        addresses: vips,
    };
    let addresses = inst
        .virtual_ipaddresses
        .iter()
        .chain(&inst.virtual_ipaddresses_excluded)
        .map(|v| address_spec(v, &inst.interface))
        .collect();
    Ok(InstancePlan {
        params,
        channel,
        destinations,
        advert,
        ah_key,
        addresses,
    })
}

/// A tracked object as an instance or a sync group configures it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TrackSpec {
    kind: TrackerKind,
    weight: i16,
    reverse: bool,
}

/// The tracked objects of `track_interface`, `track_script`, `track_process` and
/// `track_file` blocks (an instance's or a group's), with the weight in force: the line's,
/// else the object's own (interfaces: 0).
fn track_specs(
    config: &KeepalivedConfig,
    interfaces: &[TrackRef],
    scripts: &[TrackRef],
    processes: &[TrackRef],
    files: &[TrackRef],
) -> Vec<TrackSpec> {
    let spec = |kind: TrackerKind, r: &TrackRef, weight: i16, reverse: bool| TrackSpec {
        kind,
        weight: r.weight.map_or(weight, |w| w.get()),
        reverse: r.reverse || reverse,
    };
    let mut out = Vec::new();
    for r in interfaces {
        out.push(spec(TrackerKind::Interface(r.name.clone()), r, 0, false));
    }
    for r in scripts {
        if let Some(s) = config.script(&r.name) {
            let kind = TrackerKind::Script(r.name.clone());
            out.push(spec(kind, r, s.weight.get(), s.weight_reverse));
        }
    }
    for r in processes {
        if let Some(p) = config.track_processes.iter().find(|p| p.name == r.name) {
            let kind = TrackerKind::Process(r.name.clone());
            out.push(spec(kind, r, p.weight.get(), p.weight_reverse));
        }
    }
    for r in files {
        if let Some(f) = config.track_files.iter().find(|f| f.name == r.name) {
            let kind = TrackerKind::File(r.name.clone());
            out.push(spec(kind, r, f.weight.get(), f.weight_reverse));
        }
    }
    out
}

/// keepalived's `vrrp_complete_instance()` for a member of a sync group without
/// `sync_group_tracking_weight`: "we have to carefully check that we are not running
/// floating priorities on any VRRP instance". A weighted interface counts with weight 0
/// (it then puts the instance in FAULT), a weighted script is dropped, a file with the
/// default weight 1 counts with weight 0 and one with another weight is dropped. Tracked
/// processes keep their weights (2.2.7 has no such check for them).
fn drop_member_weights(
    instance: &str,
    specs: Vec<TrackSpec>,
    warnings: &mut Vec<String>,
) -> Vec<TrackSpec> {
    let mut out = Vec::new();
    for mut s in specs {
        match &s.kind {
            TrackerKind::Interface(name) if s.weight != 0 => {
                warnings.push(format!(
                    "({instance}) ignoring {name} tracked interface weight due to SYNC group"
                ));
                s.weight = 0;
            }
            TrackerKind::Script(name) if s.weight != 0 => {
                warnings.push(format!(
                    "({instance}) ignoring tracked script {name} with weights due to SYNC group"
                ));
                continue;
            }
            TrackerKind::File(name) if s.weight == 1 => {
                warnings.push(format!(
                    "({instance}) ignoring weight from tracked file {name} due to SYNC group. specify weight 0"
                ));
                s.weight = 0;
            }
            TrackerKind::File(name) if s.weight != 0 => {
                warnings.push(format!(
                    "({instance}) ignoring tracked file {name} with weight {} due to SYNC group",
                    s.weight
                ));
                continue;
            }
            _ => {}
        }
        out.push(s);
    }
    out
}

/// A sync group as its members' plans need it.
struct GroupTracking {
    /// `sync_group_tracking_weight` (or the deprecated `global_tracking`).
    keeps_weights: bool,
    /// The group's own tracked objects, added to every member (`sync_group_tracking_init()`).
    trackers: Vec<TrackSpec>,
}

/// The sync groups of `config` as the engine runs them: members resolved to instance
/// indices (an instance already in an earlier group is left out, an empty group dropped,
/// with keepalived's messages) and each group's tracked objects.
fn plan_groups(
    config: &KeepalivedConfig,
    warnings: &mut Vec<String>,
) -> (Vec<GroupParams>, Vec<Option<GroupTracking>>) {
    let mut groups = Vec::new();
    let mut tracking: Vec<Option<GroupTracking>> = config.instances.iter().map(|_| None).collect();
    let mut taken = vec![false; config.instances.len()];
    for g in &config.sync_groups {
        let mut members = Vec::new();
        for name in &g.instances {
            let Some(i) = config.instances.iter().position(|i| &i.name == name) else {
                continue;
            };
            if taken[i] {
                warnings.push(format!(
                    "Virtual router {name} cannot exist in more than one sync group; ignoring {}",
                    g.name
                ));
                continue;
            }
            taken[i] = true;
            members.push(i);
        }
        if members.len() == 1 && g.instances.len() > 1 {
            // The configuration check counted the names before this.
            warnings.push(format!(
                "Sync group {} has only 1 virtual router(s) - this probably isn't what you want",
                g.name
            ));
        }
        if members.is_empty() {
            warnings.push(format!(
                "Sync group {}, no matching virtual router found in group declaration - removing",
                g.name
            ));
            continue;
        }
        let has_owner = members
            .iter()
            .any(|&i| config.instances[i].priority.get() == crate::machine::PRIO_OWNER);
        // keepalived's order: scripts, files, processes, interfaces.
        let mut trackers = track_specs(config, &[], &g.track_scripts, &[], &[]);
        trackers.extend(track_specs(config, &[], &[], &[], &g.track_files));
        trackers.extend(track_specs(config, &[], &[], &g.track_processes, &[]));
        trackers.extend(track_specs(config, &g.track_interfaces, &[], &[], &[]));
        if has_owner {
            for t in trackers.iter_mut().filter(|t| t.weight != 0) {
                let (what, name, fix) = match &t.kind {
                    TrackerKind::Script(n) => ("script", n, "clearing weight"),
                    TrackerKind::File(n) => ("file", n, "setting weight 0"),
                    TrackerKind::Process(n) => ("process", n, "setting weight 0"),
                    TrackerKind::Interface(n) => ("interface", n, "clearing weight"),
                };
                warnings.push(format!(
                    "({}) Cannot have weighted track {what} '{name}' with member having priority 255 - {fix}",
                    g.name
                ));
                t.weight = 0;
            }
        }
        let keeps_weights = g.sync_group_tracking_weight || g.global_tracking;
        for &i in &members {
            tracking[i] = Some(GroupTracking {
                keeps_weights,
                trackers: trackers.clone(),
            });
        }
        groups.push(GroupParams {
            name: g.name.clone(),
            members,
        });
    }
    (groups, tracking)
}

/// A `virtual_ipaddress` line as the kernel is asked for it.
pub fn address_spec(vip: &VirtualIp, default_interface: &str) -> AddressSpec {
    let broadcast = match (&vip.broadcast, vip.addr) {
        (Some(Broadcast::Address(a)), _) => Some(*a),
        (Some(Broadcast::Computed), IpAddr::V4(a)) => {
            let host_bits = 32 - u32::from(vip.prefix_len.min(32));
            let mask = if host_bits >= 32 {
                0
            } else {
                u32::MAX << host_bits
            };
            Some(Ipv4Addr::from(u32::from(a) | !mask))
        }
        _ => None,
    };
    AddressSpec {
        interface: vip
            .dev
            .clone()
            .unwrap_or_else(|| default_interface.to_owned()),
        addr: vip.addr,
        prefix_len: vip.prefix_len,
        broadcast,
        scope: match vip.scope {
            Scope::Global => 0,
            Scope::Site => 200,
            Scope::Link => 253,
            Scope::Host => 254,
            Scope::Nowhere => 255,
            Scope::Numeric(n) => n,
        },
        label: vip.label.clone(),
        peer: vip.peer.map(|(a, _)| a),
        home: vip.home,
        // keepalived sets IFA_F_NODAD on every IPv6 VIP unless the line says `-nodad`
        // (which the model's `nodad` records).
        nodad: vip.addr.is_ipv6() && !vip.nodad,
        noprefixroute: vip.noprefixroute,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> KeepalivedConfig {
        keepalived_conf::parse_str(
            std::path::Path::new("test.conf"),
            text,
            &keepalived_conf::ReadOptions::default(),
            &keepalived_conf::host::FakeHost::permissive(),
        )
        .config
    }

    fn interfaces(names: &[&str]) -> BTreeMap<String, InterfaceInfo> {
        names
            .iter()
            .enumerate()
            .map(|(n, name)| {
                let info = InterfaceInfo {
                    index: u32::try_from(n).unwrap() + 2,
                    up: true,
                    mac: vec![2, 0, 0, 0, 0, 1],
                    ipv4: Some(Ipv4Addr::new(10, 99, u8::try_from(n).unwrap() + 1, 1)),
                    ipv6_link_local: None,
                };
                ((*name).to_owned(), info)
            })
            .collect()
    }

    /// The supervisor's advert for a dead keepalived's masters: the instance's own advert
    /// (version, VRID, auth, addresses, interval, source, destinations) with priority 0;
    /// none for AH.
    #[test]
    fn release_packets_are_the_instance_advert_with_priority_0() {
        let config = parse(
            r#"
vrrp_instance M {
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass secret
    }
    virtual_ipaddress {
        10.99.1.100/24
    }
}
vrrp_instance U {
    interface eth0
    virtual_router_id 52
    version 3
    priority 100
    unicast_src_ip 10.99.1.1
    unicast_peer {
        10.99.1.2
        10.99.1.3
    }
    virtual_ipaddress {
        10.99.1.101/24
    }
}
vrrp_instance A {
    interface eth0
    virtual_router_id 53
    authentication {
        auth_type AH
        auth_pass secret
    }
    virtual_ipaddress {
        10.99.1.102/24
    }
}
"#,
        );
        let table = TrackerTable::from_config(&config);
        let node = plan(
            &config,
            &table,
            &interfaces(&["eth0"]),
            PlanOptions::default(),
        )
        .unwrap();
        let m = crate::runtime::release_packets(&node.instances[0])
            .unwrap()
            .unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].0, "224.0.0.18".parse::<IpAddr>().unwrap());
        let ip = &m[0].1;
        assert_eq!((ip[8], ip[9]), (255, 112), "TTL 255, protocol VRRP");
        assert_eq!(&ip[12..16], &[10, 99, 1, 1], "the interface's address");
        let advert = crate::codec::decode(&ip[20..], crate::codec::Family::V4).unwrap();
        let mut expected = node.instances[0].advert.clone();
        expected.priority = 0;
        assert_eq!(advert, expected);
        assert_eq!(advert.vrid, 51);
        let u = crate::runtime::release_packets(&node.instances[1])
            .unwrap()
            .unwrap();
        let peers: Vec<IpAddr> = u.iter().map(|(d, _)| *d).collect();
        assert_eq!(
            peers,
            ["10.99.1.2", "10.99.1.3"].map(|a| a.parse::<IpAddr>().unwrap())
        );
        for (_, ip) in &u {
            let a = crate::codec::decode(&ip[20..], crate::codec::Family::V4).unwrap();
            assert_eq!((a.vrid, a.priority), (52, 0));
        }
        assert_eq!(
            crate::runtime::release_packets(&node.instances[2]).unwrap(),
            None
        );
    }

    /// keepalived 2.2.7's `vrrp_complete_instance()` and `sync_group_tracking_init()`
    /// (vrrp.c): weights on members are dropped with these messages, the group's own
    /// trackers are added to every member with their weights, an instance is in one group
    /// only.
    #[test]
    fn sync_groups_run_and_members_lose_their_tracking_weights() {
        let config = parse(
            r#"
vrrp_script chk_w {
    script "/bin/true"
    weight 10
}
vrrp_script chk_0 {
    script "/bin/true"
}
vrrp_script chk_g {
    script "/bin/true"
    weight -20
}
track_file f_default {
    file "/tmp/f1"
}
track_file f_5 {
    file "/tmp/f2"
    weight 5
}
vrrp_track_process p_w {
    process sshd
    weight 3
}
vrrp_sync_group G1 {
    group {
        VI_A
        VI_B
    }
    track_script {
        chk_g
    }
}
vrrp_sync_group G2 {
    group {
        VI_B
        VI_C
    }
    sync_group_tracking_weight
}
vrrp_instance VI_A {
    interface eth1
    virtual_router_id 51
    priority 100
    virtual_ipaddress {
        10.99.1.100/24
    }
    track_interface {
        eth2 weight 5
    }
    track_script {
        chk_w
        chk_0
    }
    track_file {
        f_default
        f_5
    }
    track_process {
        p_w
    }
}
vrrp_instance VI_B {
    interface eth2
    virtual_router_id 52
    priority 100
    virtual_ipaddress {
        10.99.2.100/24
    }
}
vrrp_instance VI_C {
    interface eth2
    virtual_router_id 53
    priority 100
    virtual_ipaddress {
        10.99.2.101/24
    }
    track_script {
        chk_w
    }
}
"#,
        );
        assert!(not_runnable(&config).is_empty());
        let table = TrackerTable::from_config(&config);
        let node = plan(
            &config,
            &table,
            &interfaces(&["eth1", "eth2"]),
            PlanOptions::default(),
        )
        .unwrap();
        assert_eq!(
            node.groups,
            vec![
                GroupParams {
                    name: "G1".into(),
                    members: vec![0, 1],
                },
                GroupParams {
                    name: "G2".into(),
                    members: vec![2],
                },
            ]
        );
        assert_eq!(
            node.warnings,
            vec![
                "Virtual router VI_B cannot exist in more than one sync group; ignoring G2",
                "Sync group G2 has only 1 virtual router(s) - this probably isn't what you want",
                "(VI_A) ignoring eth2 tracked interface weight due to SYNC group",
                "(VI_A) ignoring tracked script chk_w with weights due to SYNC group",
                "(VI_A) ignoring weight from tracked file f_default due to SYNC group. specify weight 0",
                "(VI_A) ignoring tracked file f_5 with weight 5 due to SYNC group",
            ]
        );
        let weights = |i: usize| -> Vec<(String, i16)> {
            node.instances[i]
                .params
                .tracked
                .iter()
                .map(|t| (t.name.clone(), t.weight))
                .collect()
        };
        let w = |n: &str, w: i16| (n.to_owned(), w);
        assert_eq!(
            weights(0),
            vec![
                w("eth1", 0),
                w("eth2", 0),
                w("chk_0", 0),
                w("p_w", 3),
                w("f_default", 0),
                w("chk_g", -20),
            ]
        );
        assert_eq!(weights(1), vec![w("eth2", 0), w("chk_g", -20)]);
        // G2 keeps weights (`sync_group_tracking_weight`).
        assert_eq!(weights(2), vec![w("eth2", 0), w("chk_w", 10)]);
    }

    #[test]
    fn brd_plus_is_computed_and_ipv6_gets_nodad() {
        let vip = VirtualIp {
            addr: "192.168.56.100".parse().unwrap(),
            prefix_len: 24,
            broadcast: Some(Broadcast::Computed),
            dev: None,
            scope: Scope::Link,
            label: Some("eth1:vip".into()),
            peer: None,
            home: false,
            nodad: false,
            noprefixroute: false,
            autojoin: false,
            no_track: false,
            track_group: None,
            span: None,
        };
        let spec = address_spec(&vip, "eth1");
        assert_eq!(spec.broadcast, Some(Ipv4Addr::new(192, 168, 56, 255)));
        assert_eq!(spec.scope, 253);
        assert_eq!(spec.interface, "eth1");
        assert!(!spec.nodad);
        let v6 = VirtualIp {
            addr: "fd00::66".parse().unwrap(),
            prefix_len: 64,
            broadcast: None,
            scope: Scope::Global,
            label: None,
            ..vip
        };
        assert!(address_spec(&v6, "eth1").nodad);
    }
}
