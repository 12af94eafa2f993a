//! Address and route lines: `virtual_ipaddress`, `virtual_ipaddress_excluded`,
//! `virtual_routes` (keepalived's `alloc_ipaddress()` and `alloc_route()`).

use std::net::{IpAddr, Ipv4Addr};

use super::Ctx;
use crate::model::{Broadcast, Scope, VirtualIp, VirtualRoute};
use crate::reader::Word;
use crate::status::ConfigErr;

/// Parses one address line; `None` when keepalived would skip the address.
pub(super) fn virtual_ip(ctx: &mut Ctx<'_>, words: &[Word]) -> Option<VirtualIp> {
    let first = words.first()?;
    let span = first.span;
    let (addr, prefix_len) = match parse_prefix(&first.text) {
        Some((addr, Some(len))) => (addr, len),
        Some((addr, None)) => (addr, if addr.is_ipv4() { 32 } else { 128 }),
        None => match first.text.split_once('/') {
            Some((a, len)) if a.parse::<IpAddr>().is_ok() => {
                let addr: IpAddr = a.parse().ok()?;
                let default = if addr.is_ipv4() { 32 } else { 128 };
                ctx.warn(
                    span,
                    ConfigErr::GeneralError,
                    format!("Invalid address prefix len {len} for address {a} - using {default}"),
                );
                (addr, default)
            }
            _ => {
                ctx.warn(
                    span,
                    ConfigErr::GeneralError,
                    format!("VRRP parsed invalid IP {}. skipping IP...", first.text),
                );
                return None;
            }
        },
    };
    let mut vip = VirtualIp {
        addr,
        prefix_len,
        broadcast: None,
        dev: None,
        scope: Scope::Global,
        label: None,
        peer: None,
        home: false,
        nodad: false,
        noprefixroute: false,
        autojoin: false,
        no_track: false,
        track_group: None,
        span: Some(span),
    };
    let mut i = 1;
    while i < words.len() {
        let option = words[i].text.as_str();
        let value = words.get(i + 1);
        let needs_value = matches!(
            option,
            "dev" | "scope" | "broadcast" | "brd" | "label" | "peer" | "preferred_lft"
        );
        if needs_value && value.is_none() {
            ctx.warn(
                span,
                ConfigErr::GeneralError,
                format!("No {option} parameter specified for {}", first.text),
            );
            return None;
        }
        match (option, value) {
            ("dev", Some(v)) => {
                if vip.dev.is_some() {
                    ctx.warn(
                        span,
                        ConfigErr::GeneralError,
                        format!(
                            "Cannot specify static ipaddress device more than once for {}",
                            first.text
                        ),
                    );
                    return None;
                }
                vip.dev = Some(v.text.clone());
                i += 2;
            }
            ("scope", Some(v)) => {
                match parse_scope(&v.text) {
                    Some(scope) if addr.is_ipv4() => vip.scope = scope,
                    Some(_) => ctx.warn(
                        span,
                        ConfigErr::GeneralError,
                        format!(
                            "Cannot set scope on IPv6 address {} - ignoring scope",
                            first.text
                        ),
                    ),
                    None => ctx.warn(
                        span,
                        ConfigErr::GeneralError,
                        format!(
                            "Invalid scope '{}' specified for {} - setting to global",
                            v.text, first.text
                        ),
                    ),
                }
                i += 2;
            }
            ("broadcast" | "brd", Some(v)) => {
                if !addr.is_ipv4() {
                    ctx.warn(
                        span,
                        ConfigErr::GeneralError,
                        format!(
                            "VRRP is trying to assign a broadcast {} to the IPv6 address {}",
                            v.text, first.text
                        ),
                    );
                    return None;
                }
                vip.broadcast = match v.text.as_str() {
                    "+" if prefix_len <= 30 => Some(Broadcast::Computed),
                    "-" if prefix_len <= 30 => Some(Broadcast::Clear),
                    "+" | "-" => None,
                    text => match text.parse::<Ipv4Addr>() {
                        Ok(b) => Some(Broadcast::Address(b)),
                        Err(_) => {
                            ctx.warn(span, ConfigErr::GeneralError, format!("VRRP is trying to assign invalid broadcast {text}. skipping VIP..."));
                            return None;
                        }
                    },
                };
                i += 2;
            }
            ("label", Some(v)) => {
                if addr.is_ipv4() {
                    let mut label = v.text.clone();
                    if label.len() > 15 {
                        ctx.warn(
                            span,
                            ConfigErr::GeneralError,
                            format!("Label '{label}' too long - truncating"),
                        );
                        label.truncate(15);
                    }
                    vip.label = Some(label);
                } else {
                    ctx.warn(
                        span,
                        ConfigErr::GeneralError,
                        format!(
                            "Cannot set label for IPv6 address {} - ignoring",
                            first.text
                        ),
                    );
                }
                i += 2;
            }
            ("peer", Some(v)) => {
                match parse_prefix(&v.text) {
                    Some((p, len)) if p.is_ipv4() == addr.is_ipv4() => vip.peer = Some((p, len)),
                    _ => ctx.warn(
                        span,
                        ConfigErr::GeneralError,
                        format!(
                            "Invalid peer address {} for {} - ignoring",
                            v.text, first.text
                        ),
                    ),
                }
                i += 2;
            }
            ("preferred_lft", Some(_)) => i += 2,
            ("home", _) => {
                vip.home = true;
                i += 1;
            }
            ("-nodad", _) => {
                vip.nodad = true;
                i += 1;
            }
            ("noprefixroute", _) => {
                vip.noprefixroute = true;
                i += 1;
            }
            ("autojoin", _) => {
                vip.autojoin = true;
                i += 1;
            }
            ("no_track", _) => {
                vip.no_track = true;
                i += 1;
            }
            ("mngtmpaddr" | "use_vmac", _) => i += 1,
            _ => {
                ctx.warn(
                    span,
                    ConfigErr::GeneralError,
                    format!("Unknown configuration entry '{option}' for ip address - ignoring"),
                );
                i += 1;
            }
        }
    }
    Some(vip)
}

/// One `virtual_routes` line.
pub(super) fn virtual_route(ctx: &mut Ctx<'_>, words: &[Word]) -> Option<VirtualRoute> {
    let span = words.first()?.span;
    let mut route = VirtualRoute {
        dst: None,
        src: None,
        via: None,
        dev: None,
        scope: None,
        table: None,
        metric: None,
        blackhole: false,
        no_track: false,
        other: Vec::new(),
    };
    let mut have_dst = false;
    let mut i = 0;
    let text = |i: usize| words.get(i).map(|w| w.text.as_str());
    while i < words.len() {
        let word = words[i].text.as_str();
        match word {
            "src" | "via" | "gw" | "dev" | "oif" | "scope" | "table" | "metric" | "priority"
            | "preference" => {
                let Some(value) = text(i + 1) else {
                    ctx.warn(
                        span,
                        ConfigErr::GeneralError,
                        format!("No {word} parameter specified for route"),
                    );
                    return None;
                };
                let value = if matches!(word, "via" | "gw") && matches!(value, "inet" | "inet6") {
                    i += 1;
                    text(i + 1).unwrap_or("")
                } else {
                    value
                };
                match word {
                    "src" | "via" | "gw" => match value.parse::<IpAddr>() {
                        Ok(a) if word == "src" => route.src = Some(a),
                        Ok(a) => route.via = Some(a),
                        Err(_) => {
                            ctx.warn(
                                span,
                                ConfigErr::GeneralError,
                                format!("Invalid {word} address {value}"),
                            );
                            return None;
                        }
                    },
                    "dev" | "oif" => route.dev = Some(value.to_owned()),
                    "scope" => route.scope = parse_scope(value),
                    "table" => {
                        route.table = value.parse().ok().or(match value {
                            "main" => Some(254),
                            "local" => Some(255),
                            "default" => Some(253),
                            _ => None,
                        })
                    }
                    _ => route.metric = value.parse().ok(),
                }
                i += 2;
            }
            "no_track" => {
                route.no_track = true;
                i += 1;
            }
            "blackhole" | "unreachable" | "prohibit" | "throw" if !have_dst => {
                route.blackhole = true;
                route.other.push(word.to_owned());
                i += 1;
            }
            "to" if !have_dst => i += 1,
            "onlink" | "inet" | "inet6" => {
                route.other.push(word.to_owned());
                i += 1;
            }
            "protocol" | "proto" | "mtu" | "advmss" | "tos" | "dsfield" | "realms" | "initcwnd"
            | "initrwnd" | "hoplimit" | "pref" | "expires" | "window" | "rtt" | "rttvar"
            | "reordering" | "cwnd" | "ssthresh" | "rto_min" | "congctl" | "features" => {
                route
                    .other
                    .push(format!("{word} {}", text(i + 1).unwrap_or("")));
                i += 2;
            }
            _ if !have_dst => {
                have_dst = true;
                if !matches!(word, "default" | "any" | "all") {
                    match parse_prefix(word) {
                        Some((addr, len)) => {
                            route.dst =
                                Some((addr, len.unwrap_or(if addr.is_ipv4() { 32 } else { 128 })))
                        }
                        None => {
                            ctx.warn(
                                span,
                                ConfigErr::GeneralError,
                                format!("unknown route keyword {word}"),
                            );
                            return None;
                        }
                    }
                }
                i += 1;
            }
            _ => {
                ctx.warn(
                    span,
                    ConfigErr::GeneralError,
                    format!("Route has trailing nonsense - {word}"),
                );
                return None;
            }
        }
    }
    if !have_dst {
        ctx.warn(
            span,
            ConfigErr::GeneralError,
            "Route must have a destination",
        );
        return None;
    }
    Some(route)
}

/// `ADDR` or `ADDR/LEN`; `None` when not an address or the length is out of range.
pub(crate) fn parse_prefix(text: &str) -> Option<(IpAddr, Option<u8>)> {
    match text.split_once('/') {
        None => text.parse::<IpAddr>().ok().map(|a| (a, None)),
        Some((a, len)) => {
            let addr: IpAddr = a.parse().ok()?;
            let len: u8 = len.parse().ok()?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            (len <= max).then_some((addr, Some(len)))
        }
    }
}

fn parse_scope(text: &str) -> Option<Scope> {
    Some(match text {
        "global" | "universe" => Scope::Global,
        "site" => Scope::Site,
        "link" => Scope::Link,
        "host" => Scope::Host,
        "nowhere" => Scope::Nowhere,
        other => Scope::Numeric(other.parse().ok()?),
    })
}
