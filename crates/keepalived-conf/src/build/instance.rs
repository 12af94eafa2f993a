//! `vrrp_instance NAME { ... }`.

use std::net::IpAddr;
use std::time::Duration;

use conf_diag::{Diagnostic, Severity, Span};

use super::address::{virtual_ip, virtual_route};
use super::script::command_words;
use super::Ctx;
use crate::model::{
    Command, GarpTimers, InitialState, Priority, ScriptUser, TrackRef, UnicastPeer, Vrid,
    VrrpInstance, VrrpVersion, Weight,
};
use crate::reader::Word;
use crate::status::ConfigErr;
use crate::syntax::Node;

/// What an instance block said, before keepalived's defaults and checks are applied
/// (those need the whole file: see `complete`).
#[derive(Debug, Clone)]
pub(crate) struct RawInstance {
    pub name: String,
    pub span: Span,
    pub state: Option<InitialState>,
    pub interface: Option<String>,
    pub vrid: Option<Vrid>,
    pub priority: Option<Priority>,
    pub advert_int: Option<Duration>,
    pub version: Option<VrrpVersion>,
    pub auth_type: Option<(String, Span)>,
    pub auth_pass: Option<String>,
    pub instance: VrrpInstance,
}

pub(super) fn vrrp_instance(ctx: &mut Ctx<'_>, node: &Node) {
    let Some(name_word) = ctx.arg(node, 1) else {
        return;
    };
    let name = name_word.text.clone();
    if ctx.config.instances.iter().any(|i| i.name == name)
        || ctx.pending_instances.iter().any(|r| r.name == name)
    {
        ctx.error(
            node.span(),
            ConfigErr::GeneralError,
            format!("vrrp instance {name} already defined"),
        );
        return;
    }
    let mut raw = RawInstance {
        name: name.clone(),
        span: node.span(),
        state: None,
        interface: None,
        vrid: None,
        priority: None,
        advert_int: None,
        version: None,
        auth_type: None,
        auth_pass: None,
        instance: VrrpInstance {
            name: name.clone(),
            initial_state: InitialState::Backup,
            interface: String::new(),
            vrid: Vrid::MIN,
            priority: Priority::DEFAULT,
            advert_int: Duration::from_secs(1),
            version: VrrpVersion::V2,
            nopreempt: false,
            preempt_delay: Duration::ZERO,
            unicast_src_ip: None,
            unicast_peers: Vec::new(),
            mcast_src_ip: None,
            authentication: None,
            virtual_ipaddresses: Vec::new(),
            virtual_ipaddresses_excluded: Vec::new(),
            virtual_routes: Vec::new(),
            virtual_routes_span: None,
            track_interfaces: Vec::new(),
            track_scripts: Vec::new(),
            track_processes: Vec::new(),
            track_files: Vec::new(),
            notify: Default::default(),
            smtp_alert: None,
            garp: ctx.config.global.garp,
            accept: None,
            use_vmac: None,
            use_vmac_span: None,
            vmac_xmit_base: false,
            dont_track_primary: false,
            skip_check_adv_addr: false,
            strict_mode: None,
            lvs_sync_daemon_interface: None,
            span: Some(node.span()),
        },
    };
    for item in node.children() {
        instance_keyword(ctx, &mut raw, item);
    }
    ctx.pending_instances.push(raw);
}

fn instance_keyword(ctx: &mut Ctx<'_>, raw: &mut RawInstance, item: &Node) {
    let name = raw.name.clone();
    let span = item.span();
    let inst = &mut raw.instance;
    match item.name() {
        "state" => {
            if let Some(w) = ctx.arg(item, 1) {
                raw.state = Some(match w.text.as_str() {
                    "MASTER" => InitialState::Master,
                    "BACKUP" => InitialState::Backup,
                    other => {
                        let mut d = Diagnostic::warning(
                            w.span,
                            format!("({name}) unknown state '{other}', defaulting to BACKUP"),
                        )
                        .with_code(ConfigErr::GeneralError.code());
                        if other.eq_ignore_ascii_case("master")
                            || other.eq_ignore_ascii_case("backup")
                        {
                            d = d.with_help(format!(
                                "keepalived's states are upper case: write '{}'. keepalived 2.2.7 reads '{other}' as BACKUP too, so the behaviour is unchanged",
                                other.to_ascii_uppercase()
                            ));
                        }
                        ctx.diags.push(d);
                        InitialState::Backup
                    }
                });
            }
        }
        "interface" => {
            if let Some(w) = ctx.arg(item, 1) {
                if w.text.len() >= 16 {
                    ctx.warn(
                        span,
                        ConfigErr::GeneralError,
                        format!("Interface name '{}' too long - ignoring", w.text),
                    );
                } else {
                    if !ctx.host.interface_exists(&w.text) {
                        ctx.warn(
                            span,
                            ConfigErr::GeneralError,
                            format!(
                                "WARNING - interface {} for vrrp_instance {name} doesn't exist",
                                w.text
                            ),
                        );
                    }
                    raw.interface = Some(w.text.clone());
                }
            }
        }
        "virtual_router_id" => {
            if let Some(w) = ctx.arg(item, 1) {
                match ctx.int(w, 1, 255).and_then(Vrid::new) {
                    Some(v) => raw.vrid = Some(v),
                    None => ctx.warn(
                        span,
                        ConfigErr::GeneralError,
                        format!(
                            "({name}): VRID '{}' not valid - must be between 1 & 255",
                            w.text
                        ),
                    ),
                }
            }
        }
        "priority" => {
            if let Some(w) = ctx.arg(item, 1) {
                match ctx.int(w, 1, 255).and_then(Priority::new) {
                    Some(p) => raw.priority = Some(p),
                    None => ctx.warn(span, ConfigErr::GeneralError, format!("({name}) Priority not valid! must be between 1 & 255. Using default 100")),
                }
            }
        }
        "advert_int" => {
            if let Some(w) = ctx.arg(item, 1) {
                match ctx.seconds(w, 0.01, 255.0) {
                    Some(d) => raw.advert_int = Some(d),
                    None => ctx.warn(
                        span,
                        ConfigErr::GeneralError,
                        format!(
                            "({name}) Advert interval ({}) not valid! Must be > 0 - ignoring",
                            w.text
                        ),
                    ),
                }
            }
        }
        "version" => {
            if let Some(w) = ctx.arg(item, 1) {
                match w.text.as_str() {
                    "2" => raw.version = Some(VrrpVersion::V2),
                    "3" => raw.version = Some(VrrpVersion::V3),
                    _ => ctx.warn(
                        span,
                        ConfigErr::GeneralError,
                        format!("({name}): Version must be either 2 or 3"),
                    ),
                }
            }
        }
        "nopreempt" => inst.nopreempt = true,
        "preempt" => inst.nopreempt = false,
        "preempt_delay" => {
            if let Some(w) = ctx.arg(item, 1) {
                match w
                    .text
                    .parse::<f64>()
                    .ok()
                    .filter(|v| (0.0..=1000.0).contains(v))
                {
                    Some(v) => inst.preempt_delay = Duration::from_secs_f64(v),
                    None => ctx.warn(
                        span,
                        ConfigErr::GeneralError,
                        format!("({name}) Preempt_delay not valid! must be between 0-1000"),
                    ),
                }
            }
        }
        "unicast_src_ip" | "mcast_src_ip" => {
            if let Some(w) = ctx.arg(item, 1) {
                match w.text.parse::<IpAddr>() {
                    Ok(a) if item.name() == "unicast_src_ip" => inst.unicast_src_ip = Some(a),
                    Ok(a) => inst.mcast_src_ip = Some(a),
                    Err(_) => ctx.warn(span, ConfigErr::GeneralError, format!("Configuration error: VRRP instance[{name}] malformed src address[{}]. Skipping...", w.text)),
                }
            }
        }
        "unicast_peer" => {
            block_extra_args(ctx, item);
            for line in item.children() {
                let words = &line.line.words;
                let Some(first) = words.first() else { continue };
                let Ok(addr) = first.text.parse::<IpAddr>() else {
                    ctx.warn(line.span(), ConfigErr::GeneralError, format!("Configuration error: VRRP instance[{name}] malformed unicast peer address[{}]. Skipping...", first.text));
                    continue;
                };
                let mut peer = UnicastPeer {
                    addr,
                    min_ttl: None,
                    max_ttl: None,
                };
                let mut i = 1;
                while i < words.len() {
                    let ttl = words.get(i + 1).and_then(|w| w.text.parse::<u8>().ok());
                    match (words[i].text.as_str(), ttl) {
                        ("min_ttl", Some(t)) => peer.min_ttl = Some(t),
                        ("max_ttl", Some(t)) => peer.max_ttl = Some(t),
                        (other, _) => ctx.warn(
                            line.span(),
                            ConfigErr::GeneralError,
                            format!("({name}) unknown unicast_peer option {other}"),
                        ),
                    }
                    i += 2;
                }
                inst.unicast_peers.push(peer);
            }
        }
        "authentication" => {
            for a in item.children() {
                match a.name() {
                    "auth_type" => {
                        if let Some(w) = ctx.arg(a, 1) {
                            match w.text.as_str() {
                                "PASS" | "AH" => raw.auth_type = Some((w.text.clone(), a.span())),
                                other => ctx.warn(
                                    a.span(),
                                    ConfigErr::GeneralError,
                                    format!("({name}) unknown authentication type '{other}'"),
                                ),
                            }
                        }
                    }
                    "auth_pass" => {
                        if let Some(w) = ctx.arg(a, 1) {
                            let mut pass = w.text.clone();
                            if pass.len() > 8 {
                                let mut d = Diagnostic::warning(
                                    w.span,
                                    "Truncating auth_pass to 8 characters",
                                )
                                .with_code(ConfigErr::Warning.code());
                                let mut end = 8;
                                while !pass.is_char_boundary(end) {
                                    end -= 1;
                                }
                                pass.truncate(end);
                                d = d.with_help(format!("only '{pass}' is sent and compared; the peer truncates the same way"));
                                ctx.diags.push(d);
                            }
                            raw.auth_pass = Some(pass);
                        }
                    }
                    _ => ctx.other("vrrp_instance.authentication", a),
                }
            }
        }
        "virtual_ipaddress" | "virtual_ipaddress_excluded" => {
            block_extra_args(ctx, item);
            for line in item.children() {
                if let Some(vip) = virtual_ip(ctx, &line.line.words) {
                    if item.name() == "virtual_ipaddress" {
                        inst.virtual_ipaddresses.push(vip);
                    } else {
                        inst.virtual_ipaddresses_excluded.push(vip);
                    }
                }
            }
        }
        "virtual_routes" => {
            block_extra_args(ctx, item);
            inst.virtual_routes_span = Some(item.span());
            for line in item.children() {
                if let Some(route) = virtual_route(ctx, &line.line.words) {
                    inst.virtual_routes.push(route);
                }
            }
        }
        "track_interface" => {
            for line in item.children() {
                if let Some(t) = track_entry(ctx, &name, line, "track_interface") {
                    if !ctx.host.interface_exists(&t.name) {
                        ctx.warn(
                            line.span(),
                            ConfigErr::GeneralError,
                            format!("({name}) tracked interface {} doesn't exist", t.name),
                        );
                        continue;
                    }
                    inst.track_interfaces.push(t);
                }
            }
        }
        "track_script" => {
            for line in item.children() {
                let Some(t) = track_entry(ctx, &name, line, "track_script") else {
                    continue;
                };
                if ctx.config.script(&t.name).is_none() {
                    let mut d = Diagnostic::warning(
                        line.keyword().span,
                        format!("({name}) track script {} not found, ignoring...", t.name),
                    )
                    .with_code(ConfigErr::GeneralError.code());
                    if ctx.script_names.contains(&t.name) {
                        d = d.with_help("the vrrp_script is defined further down; keepalived resolves track_script as it reads, so move the vrrp_script block above this instance");
                    }
                    ctx.diags.push(d);
                    continue;
                }
                if inst.track_scripts.iter().any(|s| s.name == t.name) {
                    ctx.warn(
                        line.span(),
                        ConfigErr::GeneralError,
                        format!("({name}) duplicate track_script {} - ignoring", t.name),
                    );
                    continue;
                }
                inst.track_scripts.push(t);
            }
        }
        "track_process" => {
            for line in item.children() {
                let Some(t) = track_entry(ctx, &name, line, "track_process") else {
                    continue;
                };
                if !ctx.config.track_processes.iter().any(|p| p.name == t.name) {
                    ctx.warn(
                        line.span(),
                        ConfigErr::GeneralError,
                        format!("({name}) track process {} not found, ignoring...", t.name),
                    );
                    continue;
                }
                inst.track_processes.push(t);
            }
        }
        "track_file" => {
            for line in item.children() {
                let Some(t) = track_entry(ctx, &name, line, "track_file") else {
                    continue;
                };
                if !ctx.config.track_files.iter().any(|f| f.name == t.name) {
                    ctx.warn(
                        line.span(),
                        ConfigErr::GeneralError,
                        format!("({name}) track file {} not found, ignoring...", t.name),
                    );
                    continue;
                }
                inst.track_files.push(t);
            }
        }
        "notify"
        | "notify_master"
        | "notify_backup"
        | "notify_fault"
        | "notify_stop"
        | "notify_deleted"
        | "notify_master_rx_lower_pri" => {
            if let Some(command) = notify_command(ctx, item) {
                let slot = match item.name() {
                    "notify" => &mut inst.notify.any,
                    "notify_master" => &mut inst.notify.master,
                    "notify_backup" => &mut inst.notify.backup,
                    "notify_fault" => &mut inst.notify.fault,
                    "notify_stop" => &mut inst.notify.stop,
                    "notify_deleted" => &mut inst.notify.deleted,
                    _ => &mut inst.notify.master_rx_lower_pri,
                };
                *slot = Some(command);
            }
        }
        "smtp_alert" => {
            if let Some(v) = ctx.boolean(item, "vrrp_instance smtp_alert") {
                inst.smtp_alert = Some(v);
            }
        }
        "garp_master_delay" | "garp_master_refresh" | "garp_lower_prio_delay" => {
            if let Some(w) = ctx.arg(item, 1) {
                match w
                    .text
                    .parse::<u32>()
                    .ok()
                    .filter(|v| *v <= u32::MAX / 1_000_000)
                {
                    Some(v) => {
                        let d = Duration::from_secs(u64::from(v));
                        match item.name() {
                            "garp_master_delay" => inst.garp.master_delay = d,
                            "garp_master_refresh" => {
                                inst.garp.master_refresh = (v > 0).then_some(d)
                            }
                            _ => inst.garp.lower_prio_delay = Some(d),
                        }
                    }
                    None => {
                        let message = if item.name() == "garp_master_refresh" {
                            format!(
                                "({name}): Invalid garp_master_refresh '{}' - ignoring",
                                w.text
                            )
                        } else {
                            format!("({name}): {} '{}' invalid - ignoring", item.name(), w.text)
                        };
                        ctx.warn(span, ConfigErr::GeneralError, message);
                    }
                }
            }
        }
        "garp_master_repeat" | "garp_master_refresh_repeat" | "garp_lower_prio_repeat" => {
            if let Some(w) = ctx.arg(item, 1) {
                match w.text.parse::<u32>() {
                    Ok(0) if item.name() != "garp_lower_prio_repeat" => {
                        ctx.warn(
                            span,
                            ConfigErr::GeneralError,
                            format!(
                                "({name}): {} must be greater than 0, setting to 1",
                                item.name()
                            ),
                        );
                        set_repeat(&mut inst.garp, item.name(), 1);
                    }
                    Ok(v) => set_repeat(&mut inst.garp, item.name(), v),
                    Err(_) => {
                        let message = if item.name() == "garp_lower_prio_repeat" {
                            format!("({name}): Invalid garp_lower_prio_repeat '{}'", w.text)
                        } else {
                            format!("({name}): {} '{}' invalid - ignoring", item.name(), w.text)
                        };
                        ctx.warn(span, ConfigErr::GeneralError, message);
                    }
                }
            }
        }
        "accept" => inst.accept = Some(true),
        "no_accept" => inst.accept = Some(false),
        "use_vmac" => {
            inst.use_vmac_span = Some(item.span());
            inst.use_vmac = Some(match item.args().first() {
                Some(w) => w.text.clone(),
                None => String::new(),
            })
        }
        "vmac_xmit_base" => inst.vmac_xmit_base = true,
        "dont_track_primary" => inst.dont_track_primary = true,
        "skip_check_adv_addr" => inst.skip_check_adv_addr = true,
        "strict_mode" => inst.strict_mode = ctx.boolean(item, "strict_mode"),
        "lvs_sync_daemon_interface" => {
            inst.lvs_sync_daemon_interface = item.args().first().map(|w| w.text.clone());
        }
        _ => ctx.other("vrrp_instance", item),
    }
}

fn set_repeat(garp: &mut GarpTimers, keyword: &str, value: u32) {
    match keyword {
        "garp_master_repeat" => garp.master_repeat = value,
        "garp_master_refresh_repeat" => garp.master_refresh_repeat = value,
        _ => garp.lower_prio_repeat = Some(value),
    }
}

/// `Block X has extra parameters Y ...` for `virtual_ipaddress foo { ... }`.
fn block_extra_args(ctx: &mut Ctx<'_>, item: &Node) {
    if let Some(extra) = item.args().first() {
        ctx.warn(
            item.span(),
            ConfigErr::GeneralError,
            format!(
                "Block {} has extra parameters {} ...",
                item.name(),
                extra.text
            ),
        );
    }
}

/// `NAME [weight W [reverse|noreverse]]`.
pub(super) fn track_entry(
    ctx: &mut Ctx<'_>,
    instance: &str,
    line: &Node,
    kind: &str,
) -> Option<TrackRef> {
    let words: &[Word] = &line.line.words;
    let name = words.first()?.text.clone();
    let mut entry = TrackRef {
        name: name.clone(),
        weight: None,
        reverse: false,
    };
    match words.get(1).map(|w| w.text.as_str()) {
        None => return Some(entry),
        Some("weight") => {}
        Some(other) => {
            ctx.warn(
                line.span(),
                ConfigErr::GeneralError,
                format!("({instance}) unknown {kind} {name} option {other} - ignoring"),
            );
            return None;
        }
    }
    let Some(value) = words.get(2) else {
        ctx.warn(
            line.span(),
            ConfigErr::GeneralError,
            format!("({instance}) weight without value specified for {kind} {name} - ignoring"),
        );
        return None;
    };
    let Some(mut weight) = value
        .text
        .parse::<i64>()
        .ok()
        .filter(|v| (-254..=254).contains(v))
    else {
        ctx.warn(line.span(), ConfigErr::GeneralError, format!("({instance}) {kind} {name}: weight must be between [-253..253] inclusive, ignoring..."));
        return None;
    };
    if weight.abs() == 254 && matches!(kind, "track_interface" | "track_script") {
        ctx.warn(
            line.span(),
            ConfigErr::GeneralError,
            format!("({instance}) weight for {name} cannot be +/-254. Setting to +/-253"),
        );
        weight = weight.signum() * 253;
    }
    entry.weight = Weight::new(weight.clamp(-253, 253));
    match words.get(3).map(|w| w.text.as_str()) {
        None => {}
        Some("reverse") => entry.reverse = true,
        Some("noreverse") if kind != "track_interface" => {}
        Some(other) => {
            ctx.warn(
                line.span(),
                ConfigErr::GeneralError,
                format!("({instance}) unknown {kind} {name} weight option {other} - ignoring"),
            );
        }
    }
    Some(entry)
}

/// `notify* COMMAND [USER [GROUP]]`: the command is the first (quoted) word.
pub(super) fn notify_command(ctx: &mut Ctx<'_>, item: &Node) -> Option<Command> {
    ctx.arg(item, 1)?;
    let words = match crate::reader::split_shell_words(&item.line.text) {
        Ok(w) => w,
        Err(message) => {
            ctx.error(item.span(), ConfigErr::UnmatchedQuote, message);
            return None;
        }
    };
    let command = words.get(1)?;
    let argv = if command.contains([' ', '\t']) {
        command_words(&format!("x {command}")).unwrap_or_else(|_| vec![command.clone()])
    } else {
        vec![command.clone()]
    };
    let user = words.get(2).map(|u| ScriptUser {
        user: u.clone(),
        group: words.get(3).cloned(),
    });
    if argv.is_empty() {
        ctx.report(
            Severity::Warning,
            item.span(),
            ConfigErr::GeneralError,
            format!("{} has no command", item.name()),
        );
        return None;
    }
    Some(Command { argv, user })
}
