//! HAProxy 2.6 as operators know it: listeners, TCP proxying, balancing, health checks,
//! queues and traffic logs, driven by the typed model of `haproxy-conf`.
//!
//! Module map (pure cores first, then the runtime):
//! - [`error`]: the crate's error type, [`ProxyError`].
//! - [`balance`]: the balancers (`balance` algorithms, `hash-type`, backup servers,
//!   `maxconn` slots and queues, `slowstart`), one [`balance::Balancer`] per backend.
//! - [`admin`]: the stats page's admin actions on a server (maintenance, drain, forced
//!   health), their balancer changes and state lines, pure.
//! - [`health`]: the health-check state machine (rise/fall, intervals, spreading) and
//!   the server state log lines.
//! - [`proxy_protocol`]: PROXY protocol v1/v2 encode (`send-proxy[-v2]`) and decode
//!   (`accept-proxy`), pure.
//! - [`http`]: `mode http` (message heads, parsing, rules, error answers, stats page).
//! - [`tls`]: `bind ... ssl`: `crt` loading (PEM file/dir), SNI choice, versions and
//!   cipher mapping onto rustls, the handshake and its failures as HAProxy logs them.
//! - [`client_stream`]: the client side of a session, plain TCP or TLS
//!   ([`client_stream::ClientStream`]).
//! - [`listener`]: `bind` lines to sockets (ranges, IPv6, `fd@N`, `IP_FREEBIND`,
//!   `SO_REUSEPORT`, backlog) and the `maxconn` limits gating `accept()`.
//! - [`tcp_session`]: one `mode tcp` session: connect retries/redispatch (pure rule),
//!   the pump with per-side idle and `*-fin` timeouts, the record for the log line.
//! - `splice_pipe` (private): the pump's zero-copy leg for `option splice-*`, a kernel
//!   pipe filled and drained with `splice(2)` on tokio's readiness.
//! - [`tcp_frontend`]: the runtime wiring listeners -> sessions -> log lines for one
//!   frontend, with the balancer plugged in as a [`tcp_session::ServerPicker`].
//! - [`traffic_log`]: the `option tcplog` line, syslog framing per `log` target (pure),
//!   and the datagram/stdout sender.
//! - [`counters`]: the stats page's traffic counters (per frontend, backend and
//!   server), atomics bumped once per logged request or session.
//! - [`sessions`]: the live sessions (`show sess`), a registry and a task-local handle.
//! - [`state_dump`]: HAProxy's SIGHUP lines (servers' states and connection counts per
//!   proxy) from a typed snapshot, pure.
//! - [`stopping`]: the soft-stop flag `mode http` connections read (close instead of
//!   keep-alive, idle ones released), as HAProxy's `PR_FL_STOPPED`.
//! - [`cli`]: the runtime API on `stats socket`s (HAProxy's CLI: commands, levels,
//!   prompt mode, replies), a sans-IO session over a [`cli::CliTarget`], and its
//!   sockets ([`cli::server`]).
//! - [`engine`]: the whole configuration running: frontends, one shared balancer per
//!   backend (sessions, checks and queue timer), server state lines; and what the
//!   engine refuses to run yet ([`engine::refusals`]).
//! - [`probe`]: what one health check does on the wire (TCP connect, `tcp-check`,
//!   `httpchk`), with HAProxy's statuses and `info:` texts, and the per-server check
//!   tasks ([`probe::schedule`]) that drive [`health`] and report transitions.

pub mod admin;
pub mod balance;
pub mod cli;
pub mod client_stream;
pub mod counters;
pub mod engine;
pub mod error;
pub mod health;
pub mod http;
pub mod listener;
pub mod probe;
pub mod proxy_protocol;
pub mod sessions;
mod splice_pipe;
pub mod state_dump;
pub mod stopping;
pub mod tcp_frontend;
pub mod tcp_session;
pub mod tls;
pub mod traffic_log;

pub use error::ProxyError;
