//! The crate's one error type: only what stops a configuration from being read at all.
//! Everything wrong *inside* a file is a diagnostic, not an error.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration file itself could not be read.
    #[error("cannot read configuration {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: conf_diag::DiagError,
    },
}
