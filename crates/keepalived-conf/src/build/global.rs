//! `global_defs { ... }`.

use std::net::IpAddr;

use super::Ctx;
use crate::model::{NotifyFifo, ScriptUser, SmtpServer, VrrpVersion};
use crate::status::ConfigErr;
use crate::syntax::Node;

pub(super) fn global_defs(ctx: &mut Ctx<'_>, node: &Node) {
    for item in node.children() {
        let span = item.span();
        match item.name() {
            "router_id" => match item.args().first() {
                Some(w) => ctx.config.global.router_id = Some(w.text.clone()),
                None => ctx.warn(
                    span,
                    ConfigErr::GeneralError,
                    "routerid name missing - ignoring",
                ),
            },
            "notification_email" => {
                let mut emails: Vec<String> = item.args().iter().map(|w| w.text.clone()).collect();
                for line in item.children() {
                    emails.extend(line.line.words.iter().map(|w| w.text.clone()));
                }
                ctx.config.global.notification_email.extend(emails);
            }
            "notification_email_from" => {
                if let Some(w) = ctx.arg(item, 1) {
                    ctx.config.global.notification_email_from = Some(w.text.clone());
                }
            }
            "smtp_server" => smtp_server(ctx, item),
            "smtp_helo_name" => {
                if let Some(w) = ctx.arg(item, 1) {
                    ctx.config.global.smtp_helo_name = Some(w.text.clone());
                }
            }
            "smtp_connect_timeout" => {
                if let Some(w) = ctx.arg(item, 1) {
                    match ctx.int(w, 1, i64::from(u32::MAX) / 1_000_000) {
                        Some(v) => {
                            ctx.config.global.smtp_connect_timeout =
                                std::time::Duration::from_secs(v as u64)
                        }
                        None => ctx.warn(
                            w.span,
                            ConfigErr::GeneralError,
                            format!("smtp_connect_timeout '{}' invalid - ignoring", w.text),
                        ),
                    }
                }
            }
            "smtp_alert" | "smtp_alert_vrrp" => {
                if let Some(v) = ctx.boolean(item, item.name()) {
                    ctx.config.global.smtp_alert = Some(v);
                }
            }
            "enable_script_security" => ctx.config.global.enable_script_security = true,
            "script_user" => {
                if let Some(user) = ctx.arg(item, 1) {
                    let script_user = ScriptUser {
                        user: user.text.clone(),
                        group: item.args().get(1).map(|w| w.text.clone()),
                    };
                    if !ctx.host.user_exists(&user.text) {
                        ctx.warn(
                            span,
                            ConfigErr::GeneralError,
                            format!("Unable to set default user to {}", user.text),
                        );
                    }
                    ctx.config.global.script_user = Some(script_user);
                }
            }
            "vrrp_garp_master_delay" => {
                if let Some(v) = seconds_arg(ctx, item) {
                    ctx.config.global.garp.master_delay = v;
                }
            }
            "vrrp_garp_master_repeat" => {
                if let Some(v) = count_arg(ctx, item) {
                    ctx.config.global.garp.master_repeat = v.max(1);
                }
            }
            "vrrp_garp_master_refresh" => {
                if let Some(v) = seconds_arg(ctx, item) {
                    ctx.config.global.garp.master_refresh = (!v.is_zero()).then_some(v);
                }
            }
            "vrrp_garp_master_refresh_repeat" => {
                if let Some(v) = count_arg(ctx, item) {
                    ctx.config.global.garp.master_refresh_repeat = v.max(1);
                }
            }
            "vrrp_garp_lower_prio_delay" => {
                if let Some(v) = seconds_arg(ctx, item) {
                    ctx.config.global.garp.lower_prio_delay = Some(v);
                }
            }
            "vrrp_garp_lower_prio_repeat" => {
                if let Some(v) = count_arg(ctx, item) {
                    ctx.config.global.garp.lower_prio_repeat = Some(v);
                }
            }
            "vrrp_garp_interval" => {
                if let Some(w) = ctx.arg(item, 1) {
                    if let Some(v) = ctx.seconds(w, 0.0, 1.0) {
                        ctx.config.global.vrrp_garp_interval = v;
                    }
                }
            }
            "vrrp_gna_interval" => {
                if let Some(w) = ctx.arg(item, 1) {
                    if let Some(v) = ctx.seconds(w, 0.0, 1.0) {
                        ctx.config.global.vrrp_gna_interval = v;
                    }
                }
            }
            "vrrp_version" => {
                if let Some(w) = ctx.arg(item, 1) {
                    match ctx.int(w, 2, 3) {
                        Some(2) => ctx.config.global.vrrp_version = VrrpVersion::V2,
                        Some(_) => ctx.config.global.vrrp_version = VrrpVersion::V3,
                        None => ctx.warn(
                            span,
                            ConfigErr::GeneralError,
                            "VRRP Error : Version must be either 2 or 3",
                        ),
                    }
                }
            }
            "vrrp_strict" => ctx.config.global.vrrp_strict = true,
            "vrrp_skip_check_adv_addr" => ctx.config.global.vrrp_skip_check_adv_addr = true,
            "vrrp_check_unicast_src" => ctx.config.global.vrrp_check_unicast_src = true,
            "vrrp_mcast_group4" | "vrrp_mcast_group6" => {
                if let Some(w) = ctx.arg(item, 1) {
                    let global = &mut ctx.config.global;
                    match (item.name(), w.text.parse::<IpAddr>()) {
                        ("vrrp_mcast_group4", Ok(IpAddr::V4(a))) if a.is_multicast() => {
                            global.vrrp_mcast_group4 = a
                        }
                        ("vrrp_mcast_group6", Ok(IpAddr::V6(a))) if a.is_multicast() => {
                            global.vrrp_mcast_group6 = a
                        }
                        _ => ctx.warn(
                            span,
                            ConfigErr::GeneralError,
                            format!("{} '{}' is invalid - ignoring", item.name(), w.text),
                        ),
                    }
                }
            }
            "vrrp_priority" => {
                if let Some(w) = ctx.arg(item, 1) {
                    if let Some(v) = ctx.int(w, -20, 19) {
                        ctx.config.global.vrrp_priority = Some(v as i32);
                    }
                }
            }
            "vrrp_no_swap" => ctx.config.global.vrrp_no_swap = true,
            "max_auto_priority" => {
                let value = match item.args().first() {
                    Some(w) => ctx.int(w, -1, 99),
                    None => Some(99),
                };
                ctx.config.global.max_auto_priority = value.map(|v| v as i32);
            }
            "dynamic_interfaces" => ctx.config.global.dynamic_interfaces = true,
            "notify_fifo" => notify_fifo(ctx, item, FifoKind::Global),
            "vrrp_notify_fifo" => notify_fifo(ctx, item, FifoKind::Vrrp),
            "notify_fifo_script" => notify_fifo_script(ctx, item, FifoKind::Global),
            "vrrp_notify_fifo_script" => notify_fifo_script(ctx, item, FifoKind::Vrrp),
            _ => ctx.other("global_defs", item),
        }
    }
}

fn smtp_server(ctx: &mut Ctx<'_>, item: &Node) {
    let Some(host) = ctx.arg(item, 1) else { return };
    let port = match item.args().get(1) {
        Some(p) => match p.text.parse::<u16>() {
            Ok(port) if port > 0 => port,
            _ => {
                ctx.warn(
                    item.span(),
                    ConfigErr::GeneralError,
                    format!("Invalid smtp server {} {}", host.text, p.text),
                );
                return;
            }
        },
        None => 25,
    };
    // An address, or a host name that resolves now: keepalived resolves it while
    // parsing (`smtpserver_handler()`: `inet_stosockaddr()`, else `domain_stosockaddr()`).
    let valid = host.text.parse::<IpAddr>().is_ok() || ctx.host.resolves(&host.text);
    if !valid {
        ctx.warn(
            item.span(),
            ConfigErr::GeneralError,
            format!("Invalid smtp server {} {}", host.text, port),
        );
        return;
    }
    ctx.config.global.smtp_server = Some(SmtpServer {
        host: host.text.clone(),
        port,
    });
}

fn seconds_arg(ctx: &mut Ctx<'_>, item: &Node) -> Option<std::time::Duration> {
    let w = ctx.arg(item, 1)?;
    match ctx.int(w, 0, i64::from(u32::MAX) / 1_000_000) {
        Some(v) => Some(std::time::Duration::from_secs(v as u64)),
        None => {
            ctx.warn(
                w.span,
                ConfigErr::GeneralError,
                format!("{} '{}' invalid - ignoring", item.name(), w.text),
            );
            None
        }
    }
}

fn count_arg(ctx: &mut Ctx<'_>, item: &Node) -> Option<u32> {
    let w = ctx.arg(item, 1)?;
    match ctx.int(w, 0, i64::from(u32::MAX)) {
        Some(v) => Some(v as u32),
        None => {
            ctx.warn(
                w.span,
                ConfigErr::GeneralError,
                format!("{} '{}' invalid - ignoring", item.name(), w.text),
            );
            None
        }
    }
}

/// Which of the VRRP process's two notify FIFOs a keyword sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FifoKind {
    /// `notify_fifo`.
    Global,
    /// `vrrp_notify_fifo`.
    Vrrp,
}

impl FifoKind {
    /// keepalived's `type` prefix in its messages.
    pub(super) fn prefix(self) -> &'static str {
        match self {
            FifoKind::Global => "",
            FifoKind::Vrrp => "vrrp_",
        }
    }

    pub(super) fn index(self) -> usize {
        match self {
            FifoKind::Global => 0,
            FifoKind::Vrrp => 1,
        }
    }
}

/// `[vrrp_]notify_fifo PATH [USER [GROUP]]` (keepalived's `notify_fifo()`): the first one
/// counts. The owner is looked up by the engine, as script users are: keepalived looks it
/// up while reading and ignores the line when the user does not exist (two log lines, not
/// a configuration error, not printed by `-t`), so a second `notify_fifo` after one with a
/// missing user is taken by keepalived and reported as a duplicate here.
fn notify_fifo(ctx: &mut Ctx<'_>, item: &Node, kind: FifoKind) {
    let prefix = kind.prefix();
    let Some(path) = item.args().first() else {
        ctx.warn(
            item.span(),
            ConfigErr::GeneralError,
            format!("No {prefix}notify_fifo name specified"),
        );
        return;
    };
    let slot = match kind {
        FifoKind::Global => &ctx.config.global.notify_fifo,
        FifoKind::Vrrp => &ctx.config.global.vrrp_notify_fifo,
    };
    if slot.is_some() {
        ctx.warn(
            path.span,
            ConfigErr::GeneralError,
            format!(
                "{prefix}notify_fifo already specified - ignoring {}",
                path.text
            ),
        );
        return;
    }
    let owner = item.args().get(1).map(|u| ScriptUser {
        user: u.text.clone(),
        group: item.args().get(2).map(|g| g.text.clone()),
    });
    let fifo = NotifyFifo {
        path: path.text.clone(),
        owner,
        script: None,
    };
    match kind {
        FifoKind::Global => ctx.config.global.notify_fifo = Some(fifo),
        FifoKind::Vrrp => ctx.config.global.vrrp_notify_fifo = Some(fifo),
    }
}

/// `[vrrp_]notify_fifo_script COMMAND [USER [GROUP]]` (keepalived's
/// `notify_fifo_script()`): the first one counts; `complete` gives it to its FIFO.
fn notify_fifo_script(ctx: &mut Ctx<'_>, item: &Node, kind: FifoKind) {
    let prefix = kind.prefix();
    let Some(first) = item.args().first() else {
        ctx.warn(
            item.span(),
            ConfigErr::GeneralError,
            format!("No {prefix}notify_fifo_script specified"),
        );
        return;
    };
    if ctx.fifo_scripts[kind.index()].is_some() {
        ctx.warn(
            first.span,
            ConfigErr::GeneralError,
            format!(
                "{prefix}notify_fifo_script already specified - ignoring {}",
                first.text
            ),
        );
        return;
    }
    if let Some(command) = super::instance::notify_command(ctx, item) {
        ctx.fifo_scripts[kind.index()] = Some((command, item.span()));
    }
}

/// After reading (keepalived's `vrrp_complete_init()`): each `*_fifo_script` goes to its
/// FIFO (without one it is never run). Both FIFOs are kept even when they name the same
/// path: keepalived 2.2.7's VRRP process drops the `vrrp_notify_fifo` then only on a
/// reload (`init_global_data()` is not called when it first reads the file), so that is
/// the engine's business.
pub(super) fn complete_notify_fifos(ctx: &mut Ctx<'_>) {
    for kind in [FifoKind::Global, FifoKind::Vrrp] {
        let Some((command, span)) = ctx.fifo_scripts[kind.index()].take() else {
            continue;
        };
        let fifo = match kind {
            FifoKind::Global => &mut ctx.config.global.notify_fifo,
            FifoKind::Vrrp => &mut ctx.config.global.vrrp_notify_fifo,
        };
        match fifo {
            Some(f) => f.script = Some(command),
            None => ctx.diags.push(conf_diag::Diagnostic::warning(
                span,
                format!(
                    "ha-compat: {p}notify_fifo_script without {p}notify_fifo is never run (keepalived ignores it too)",
                    p = kind.prefix()
                ),
            )),
        }
    }
}
