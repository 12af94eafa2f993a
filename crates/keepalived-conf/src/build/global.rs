//! `global_defs { ... }`.

use std::net::IpAddr;

use super::Ctx;
use crate::model::{ScriptUser, SmtpServer, VrrpVersion};
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
    // An address, or a host name keepalived resolves when it sends mail.
    let plausible = host.text.parse::<IpAddr>().is_ok()
        || (!host.text.is_empty()
            && host.text.chars().any(|c| c.is_ascii_alphabetic())
            && host
                .text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'));
    if !plausible {
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
