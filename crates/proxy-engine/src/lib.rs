//! HAProxy 2.6 as operators know it: listeners, TCP proxying, balancing, health checks,
//! queues and traffic logs, driven by the typed model of `haproxy-conf`.
//!
//! Module map (pure cores first, then the runtime):
//! - [`error`]: the crate's error type, [`ProxyError`].
//! - [`balance`]: the balancers (`balance` algorithms, `hash-type`, backup servers,
//!   `maxconn` slots and queues, `slowstart`), one [`balance::Balancer`] per backend.
//! - [`health`]: the health-check state machine (rise/fall, intervals, spreading) and
//!   the server state log lines.
//! - [`probe`]: what one health check does on the wire (TCP connect, `tcp-check`,
//!   `httpchk`), with HAProxy's statuses and `info:` texts, and the per-server check
//!   tasks ([`probe::schedule`]) that drive [`health`] and report transitions.

pub mod balance;
pub mod error;
pub mod health;
pub mod probe;

pub use error::ProxyError;
