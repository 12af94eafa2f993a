//! HAProxy 2.6 as operators know it: listeners, TCP proxying, balancing, health checks,
//! queues and traffic logs, driven by the typed model of `haproxy-conf`.
//!
//! Module map (pure cores first, then the runtime):
//! - [`error`]: the crate's error type, [`ProxyError`].

pub mod error;

pub use error::ProxyError;
