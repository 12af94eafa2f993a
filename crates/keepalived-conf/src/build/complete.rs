//! The checks keepalived makes once the whole file is read (`vrrp_complete_init()`,
//! script and interface checks, script security). Diagnostics here carry no position in
//! drop-in output, as keepalived prints them; the rich output still points at the block.

use std::time::Duration;

use conf_diag::{Diagnostics, Severity};

use super::Ctx;
use crate::model::{Authentication, InitialState, Priority, VrrpVersion};
use crate::status::ConfigErr;

pub(super) fn complete(ctx: &mut Ctx<'_>) {
    // keepalived stops its after-reading checks at a missing interface: it reports that,
    // and nothing more. The model is still completed (quietly) so `check` can show it.
    let host = ctx.host;
    let missing_interface = ctx.pending_instances.iter().any(|r| {
        r.interface
            .as_deref()
            .is_some_and(|i| !host.interface_exists(i))
    });
    let mut quiet = Diagnostics::new();
    if missing_interface {
        ctx.check(
            Severity::Error,
            None,
            ConfigErr::BadIf,
            "Non-existent interface specified in configuration",
        );
        std::mem::swap(ctx.diags, &mut quiet);
    }
    disable_missing_scripts(ctx);
    super::global::complete_notify_fifos(ctx);
    check_script_security(ctx);
    let pending = std::mem::take(&mut ctx.pending_instances);
    for raw in pending {
        let name = raw.name.clone();
        let span = Some(raw.span);
        let mut inst = raw.instance;

        // keepalived checks the VRID before the interface.
        let Some(vrid) = raw.vrid else {
            ctx.check(
                Severity::Error,
                span,
                ConfigErr::GeneralError,
                format!("({name}) the virtual router id must be set"),
            );
            continue;
        };
        inst.vrid = vrid;

        let Some(interface) = raw.interface else {
            ctx.check(
                Severity::Error,
                span,
                ConfigErr::GeneralError,
                format!("({name}) Unknown interface!"),
            );
            continue;
        };
        inst.interface = interface;

        // keepalived: no priority -> 255 for state MASTER, else 100; no state -> MASTER
        // only for priority 255.
        inst.priority = match (raw.priority, raw.state) {
            (Some(p), _) => p,
            (None, Some(InitialState::Master)) => Priority::OWNER,
            (None, _) => Priority::DEFAULT,
        };
        inst.initial_state = match raw.state {
            Some(s) => s,
            None if inst.priority == Priority::OWNER => InitialState::Master,
            None => InitialState::Backup,
        };

        let has_v6 = inst.virtual_ipaddresses.iter().any(|v| v.addr.is_ipv6());
        inst.version = raw.version.unwrap_or(if has_v6 {
            VrrpVersion::V3
        } else {
            ctx.config.global.vrrp_version
        });

        if let Some(interval) = raw.advert_int {
            inst.advert_int = interval;
        }
        if inst.version == VrrpVersion::V2 {
            let secs = inst.advert_int.as_secs_f64();
            if secs >= 256.0 {
                ctx.check(Severity::Warning, span, ConfigErr::GeneralError, format!("({name}) VRRPv2 advertisement interval {secs:.2}s is out of range. Must be less than 256s. Setting to 255s"));
                inst.advert_int = Duration::from_secs(255);
            } else if inst.advert_int.subsec_nanos() != 0 {
                ctx.check(Severity::Warning, span, ConfigErr::GeneralError, format!("({name}) VRRPv2 advertisement interval {secs:.6}s must be an integer. rounding"));
                inst.advert_int = Duration::from_secs((secs + 0.5).floor().max(1.0) as u64);
            }
        } else if inst.advert_int > Duration::from_millis(40_950) {
            ctx.check(Severity::Warning, span, ConfigErr::GeneralError, format!("({name}) VRRPv3 advertisement interval {:.2}s is out of range. Must be less than 40.96s. Setting to 40.95s", inst.advert_int.as_secs_f64()));
            inst.advert_int = Duration::from_millis(40_950);
        }

        if let (Some((kind, _)), Some(pass)) = (&raw.auth_type, &raw.auth_pass) {
            let ignored = inst.version == VrrpVersion::V3 || ctx.config.global.vrrp_strict;
            if !ignored {
                inst.authentication = Some(if kind == "AH" {
                    Authentication::Ah(pass.clone())
                } else {
                    Authentication::Pass(pass.clone())
                });
            }
        }
        if matches!(inst.authentication, Some(Authentication::Ah(_)))
            && inst.initial_state == InitialState::Master
        {
            ctx.check(Severity::Warning, span, ConfigErr::GeneralError, format!("({name}) Initial state master is incompatible with AH authentication - clearing"));
            inst.initial_state = InitialState::Backup;
        }
        if inst.nopreempt && inst.initial_state == InitialState::Master {
            ctx.check(Severity::Warning, span, ConfigErr::GeneralError, format!("({name}) Warning - nopreempt will not work with initial state MASTER - clearing"));
            inst.nopreempt = false;
        }
        if inst.virtual_ipaddresses.is_empty() {
            // keepalived 2.2.7 prints it twice (two validation stages; REFERENCE.md).
            ctx.check_printed_twice(
                Severity::Warning,
                span,
                ConfigErr::Warning,
                format!("({name}) No VIP specified; at least one is sensible"),
            );
        }
        if inst.unicast_src_ip.is_some() && inst.unicast_peers.is_empty() {
            ctx.check(Severity::Warning, span, ConfigErr::GeneralError, format!("({name}) A unicast keyword has been specified without any unicast peers. Defaulting to multicast. This usage is deprecated - please update your configuration."));
            inst.unicast_src_ip = None;
        }
        ctx.config.instances.push(inst);
    }
    check_duplicate_vrids(ctx);
    check_sync_groups(ctx);
    if missing_interface {
        std::mem::swap(ctx.diags, &mut quiet);
    }
}

/// Two instances with one VRID on one interface and address family would fight over the
/// same virtual MAC: keepalived reports it.
fn check_duplicate_vrids(ctx: &mut Ctx<'_>) {
    let mut seen: Vec<(String, u8, bool, String)> = Vec::new();
    let mut messages = Vec::new();
    for inst in &ctx.config.instances {
        let v6 = inst
            .virtual_ipaddresses
            .first()
            .is_some_and(|v| v.addr.is_ipv6());
        let key = (inst.interface.clone(), inst.vrid.get(), v6);
        if let Some((_, _, _, first)) = seen
            .iter()
            .find(|(i, v, f, _)| (i, v, f) == (&key.0, &key.1, &key.2))
        {
            let family = if v6 { "IPv6" } else { "IPv4" };
            messages.push((
                inst.span,
                format!(
                    "{first} and {} both use VRID {} with {family} on interface {}",
                    inst.name, key.1, key.0
                ),
            ));
        } else {
            seen.push((key.0, key.1, key.2, inst.name.clone()));
        }
    }
    for (span, m) in messages {
        ctx.check(Severity::Error, span, ConfigErr::GeneralError, m);
    }
}

/// A tracking script whose program cannot be found is disabled, and the instances run
/// untracked (keepalived 2.2.7: `Disabling track script X since not found/accessible`).
fn disable_missing_scripts(ctx: &mut Ctx<'_>) {
    let mut disabled = Vec::new();
    for script in &ctx.config.scripts {
        let program = script.command.first().map(String::as_str).unwrap_or("");
        if ctx.host.find_executable(program).is_none() {
            disabled.push((script.name.clone(), script.span, program.to_owned()));
        }
    }
    for (name, span, program) in disabled {
        ctx.diags.push(
            conf_diag::Diagnostic::new(Severity::Warning, span, format!("Disabling track script {name} since not found/accessible"))
                .with_code(ConfigErr::GeneralError.code())
                .with_help(format!("'{program}' is not an executable file, nor found in PATH; instances tracking it run untracked"))
                .at_check(),
        );
        ctx.config.scripts.retain(|s| s.name != name);
        for inst in &mut ctx.pending_instances {
            inst.instance.track_scripts.retain(|t| t.name != name);
        }
        for group in &mut ctx.config.sync_groups {
            group.track_scripts.retain(|t| t.name != name);
        }
    }
}

fn check_sync_groups(ctx: &mut Ctx<'_>) {
    let names: Vec<String> = ctx
        .config
        .instances
        .iter()
        .map(|i| i.name.clone())
        .collect();
    let mut messages = Vec::new();
    for group in &mut ctx.config.sync_groups {
        group.instances.retain(|member| {
            let known = names.contains(member);
            if !known {
                messages.push(format!(
                    "Virtual router {member} specified in sync group {} doesn't exist - ignoring",
                    group.name
                ));
            }
            known
        });
        if group.instances.len() == 1 {
            messages.push(format!(
                "Sync group {} has only 1 virtual router(s) - this probably isn't what you want",
                group.name
            ));
        }
    }
    for m in messages {
        ctx.check(Severity::Warning, None, ConfigErr::GeneralError, m);
    }
}

/// keepalived refuses, in `-t`, configurations that would run scripts as root without
/// `enable_script_security`. Only scripts that exist count.
fn check_script_security(ctx: &mut Ctx<'_>) {
    if ctx.config.global.enable_script_security {
        return;
    }
    let host = ctx.host;
    let found = |argv: &[String]| {
        argv.first()
            .is_some_and(|p| host.find_executable(p).is_some())
    };
    let mut runs = !ctx.config.scripts.is_empty();
    let pending = ctx.pending_instances.iter().map(|r| &r.instance);
    for inst in ctx.config.instances.iter().chain(pending) {
        let n = &inst.notify;
        for c in [
            &n.any,
            &n.master,
            &n.backup,
            &n.fault,
            &n.stop,
            &n.deleted,
            &n.master_rx_lower_pri,
        ]
        .into_iter()
        .flatten()
        {
            runs |= found(&c.argv);
        }
    }
    for group in &ctx.config.sync_groups {
        let n = &group.notify;
        for c in [&n.any, &n.master, &n.backup, &n.fault, &n.stop]
            .into_iter()
            .flatten()
        {
            runs |= found(&c.argv);
        }
    }
    for fifo in ctx.config.global.notify_fifos() {
        if let Some(c) = &fifo.script {
            runs |= found(&c.argv);
        }
    }
    if runs {
        ctx.diags.push(
            conf_diag::Diagnostic::new(Severity::Warning, None, "SECURITY VIOLATION - scripts are being executed but script_security not enabled.")
                .with_code(ConfigErr::SecurityError.code())
                .with_help("add `enable_script_security` to global_defs (and a `script_user`); keepalived -t exits 6 until then")
                .at_check(),
        );
    }
}
