//! The crate's one error type.

/// What can go wrong in the proxy engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// A configuration the engine cannot run as asked (named with its `file:line`).
    #[error("{0}")]
    Plan(String),
    /// A system call failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done (with the address concerned).
        what: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A `bind ... ssl` that cannot run: certificates, versions (HAProxy's message).
    #[error("{0}")]
    Tls(String),
    /// A run-time weight change the backend refuses (HAProxy's CLI message).
    #[error("{0}")]
    Weight(String),
}
