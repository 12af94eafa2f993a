//! The crate's one error type.

use std::path::PathBuf;

/// What can go wrong while loading a source file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiagError {
    /// The file could not be read (missing, unreadable, a directory ...).
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
