//! HAProxy 2.6 as operators know it: listeners, TCP proxying, balancing, health checks,
//! queues and traffic logs, driven by the typed model of `haproxy-conf`.
//!
//! Module map (pure cores first, then the runtime):
//! - [`error`]: the crate's error type, [`ProxyError`].
//! - [`proxy_protocol`]: PROXY protocol v1/v2 encode (`send-proxy[-v2]`) and decode
//!   (`accept-proxy`), pure.
//! - [`listener`]: `bind` lines to sockets (ranges, IPv6, `fd@N`, `IP_FREEBIND`,
//!   `SO_REUSEPORT`, backlog) and the `maxconn` limits gating `accept()`.
//! - [`traffic_log`]: the `option tcplog` line, syslog framing per `log` target (pure),
//!   and the datagram/stdout sender.

pub mod error;
pub mod listener;
pub mod proxy_protocol;
pub mod traffic_log;

pub use error::ProxyError;
