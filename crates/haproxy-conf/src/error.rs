//! The crate's error type: failures that are not configuration diagnostics.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum HaproxyConfError {
    /// A `-f DIR` could not be listed.
    #[error("cannot read directory {path}: {source}")]
    ReadDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
