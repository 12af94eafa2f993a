//! `ha-compat -f keepalived.conf -f haproxy.cfg`: one child per engine that has a
//! configuration, under the daemons' names, restarted when it dies.
//!
//! - [`core`]: the decisions, sans IO (children, restart backoff, stop, VIP cleanup).
//! - [`runtime`]: spawning, reaping, signals, the VIP removal through vrrp-engine's
//!   netlink platform.

pub mod core;
pub mod runtime;
