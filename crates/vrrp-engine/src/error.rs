//! The crate's one error type.

/// What can go wrong in the VRRP engine.
#[derive(Debug, thiserror::Error)]
pub enum VrrpError {
    /// An advert that cannot be put on the wire as asked.
    #[error("cannot encode VRRP advert: {0}")]
    Encode(String),
    /// Bytes that are not a VRRP payload.
    #[error("not a VRRP packet: {0}")]
    Decode(String),
    /// A configuration that cannot run on this machine (missing interface, no address).
    #[error("{0}")]
    Plan(String),
    /// A tracking or notify thread could not be started.
    #[error("cannot start {what}: {source}")]
    Spawn {
        /// What was being started.
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
}
