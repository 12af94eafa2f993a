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
    /// A system call or netlink request of the platform failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done (with the interface / address concerned).
        what: String,
        /// The operating system's error (a netlink error is its errno).
        source: std::io::Error,
    },
    /// The interface does not exist (now).
    #[error("interface {0} not found")]
    NoInterface(String),
    /// A platform request that cannot be carried out as asked (unknown channel, an address
    /// of the wrong family, an interface without an Ethernet address...).
    #[error("{0}")]
    Platform(String),
}

impl VrrpError {
    /// An [`VrrpError::Io`] for `what`.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        VrrpError::Io {
            what: what.into(),
            source,
        }
    }

    /// The OS error number of an [`VrrpError::Io`], if it carries one.
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            VrrpError::Io { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}
