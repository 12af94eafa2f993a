//! From the typed configuration to what the runtime runs: for each `vrrp_instance`, the
//! state machine's [`InstanceParams`], the [`ChannelSpec`] it sends and receives on, where
//! its adverts go, the advert it sends, and its addresses as [`AddressSpec`]s. Pure: the
//! facts about interfaces come in as [`InterfaceInfo`]s.

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
use crate::machine::{InstanceParams, Tracked};
use crate::platform::{AddressSpec, ChannelSpec, InterfaceInfo};
use crate::rx::{Auth, Expected};
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

/// What the configuration asks for that the running engine does not do yet and that
/// changes routing or failover: running without it would silently do something else, so
/// the engine refuses to start (the configuration test still accepts it, as keepalived).
pub fn not_runnable(config: &KeepalivedConfig) -> Vec<String> {
    let mut out = Vec::new();
    for g in &config.sync_groups {
        out.push(format!(
            "vrrp_sync_group {}: members moving together is not implemented yet",
            g.name
        ));
    }
    for i in &config.instances {
        if !i.virtual_routes.is_empty() {
            out.push(format!("({}) virtual_routes: not implemented yet", i.name));
        }
        if i.use_vmac.is_some() {
            out.push(format!("({}) use_vmac: not implemented yet", i.name));
        }
    }
    out
}

/// Plans every instance of `config`. `interfaces` holds what is known of each interface
/// an instance names (an instance whose interface is missing is an error, as keepalived
/// refuses to start it).
pub fn plan(
    config: &KeepalivedConfig,
    table: &TrackerTable,
    interfaces: &BTreeMap<String, InterfaceInfo>,
    options: PlanOptions,
) -> Result<Vec<InstancePlan>, VrrpError> {
    if let Some(first) = not_runnable(config).into_iter().next() {
        return Err(VrrpError::Plan(format!(
            "{first}; ha-compat refuses to run rather than ignore it"
        )));
    }
    config
        .instances
        .iter()
        .map(|i| plan_instance(config, i, table, interfaces, options))
        .collect()
}

fn plan_instance(
    config: &KeepalivedConfig,
    inst: &VrrpInstance,
    table: &TrackerTable,
    interfaces: &BTreeMap<String, InterfaceInfo>,
    options: PlanOptions,
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
    let mut tracked = Vec::new();
    let mut add = |kind: TrackerKind, r: Option<&TrackRef>, weight: i16, reverse: bool| {
        if let Some(id) = table.id(&kind) {
            let name = match &kind {
                TrackerKind::Script(n)
                | TrackerKind::Process(n)
                | TrackerKind::File(n)
                | TrackerKind::Interface(n) => n.clone(),
            };
            tracked.push(Tracked {
                id,
                name,
                weight: r.and_then(|r| r.weight).map_or(weight, |w| w.get()),
                reverse: r.map_or(reverse, |r| r.reverse || reverse),
            });
        }
    };
    if !inst.dont_track_primary {
        add(
            TrackerKind::Interface(inst.interface.clone()),
            None,
            0,
            false,
        );
    }
    for r in &inst.track_interfaces {
        add(TrackerKind::Interface(r.name.clone()), Some(r), 0, false);
    }
    for r in &inst.track_scripts {
        if let Some(s) = config.script(&r.name) {
            add(
                TrackerKind::Script(r.name.clone()),
                Some(r),
                s.weight.get(),
                s.weight_reverse,
            );
        }
    }
    for r in &inst.track_processes {
        if let Some(p) = config.track_processes.iter().find(|p| p.name == r.name) {
            add(
                TrackerKind::Process(r.name.clone()),
                Some(r),
                p.weight.get(),
                p.weight_reverse,
            );
        }
    }
    for r in &inst.track_files {
        if let Some(f) = config.track_files.iter().find(|f| f.name == r.name) {
            add(
                TrackerKind::File(r.name.clone()),
                Some(r),
                f.weight.get(),
                f.weight_reverse,
            );
        }
    }
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
    use keepalived_conf::model::{SyncGroup, VrrpInstance};

    fn config_with(groups: Vec<SyncGroup>, instances: Vec<VrrpInstance>) -> KeepalivedConfig {
        KeepalivedConfig {
            sync_groups: groups,
            instances,
            ..KeepalivedConfig::default()
        }
    }

    #[test]
    fn sync_groups_refuse_to_run_rather_than_move_instances_apart() {
        let group = SyncGroup {
            name: "G1".into(),
            instances: vec!["VI_1".into(), "VI_2".into()],
            notify: Default::default(),
            smtp_alert: None,
            global_tracking: false,
            sync_group_tracking_weight: false,
            track_interfaces: vec![],
            track_scripts: vec![],
            track_files: vec![],
            track_processes: vec![],
        };
        let config = config_with(vec![group], vec![]);
        let refused = not_runnable(&config);
        assert_eq!(refused.len(), 1);
        assert!(refused[0].starts_with("vrrp_sync_group G1"));
        let err = plan(
            &config,
            &TrackerTable::default(),
            &BTreeMap::new(),
            PlanOptions::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("refuses to run"));
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
