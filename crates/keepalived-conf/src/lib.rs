//! keepalived.conf, read the way keepalived 2.2.7 reads it, into a typed model.
//!
//! Map of the crate, in the order a file goes through it:
//! - [`reader`]: physical lines -> logical lines of words (comments, quoting, braces,
//!   `include`, `$NAME` definitions, `@id` lines, `~SEQ`, copy-paste repair).
//! - [`syntax`]: logical lines -> a tree of keyword nodes and blocks, nothing interpreted.
//! - [`build`] (private): tree -> [`model::KeepalivedConfig`], with keepalived's messages,
//!   defaults and after-reading checks.
//! - [`model`]: the typed configuration the VRRP engine consumes.
//! - [`keywords`]: every keepalived 2.2.7 keyword and ha-compat's support for it (the
//!   source of `docs/compatibility.md`).
//! - [`status`]: keepalived's error classes and the `-t` exit status.
//! - [`host`]: the [`host::Host`] trait for what a check looks up on the machine.
//! - [`error`]: [`Error`], the crate's error type.

mod build;
pub mod error;
pub mod host;
pub mod keywords;
pub mod model;
pub mod reader;
pub mod status;
pub mod syntax;

use std::path::Path;

use conf_diag::{Diagnostics, SourceMap};

pub use error::Error;
pub use model::KeepalivedConfig;
pub use reader::ReadOptions;

/// The result of reading one configuration: the model (what could be understood), every
/// diagnostic, and the files read.
#[derive(Debug)]
pub struct Parsed {
    pub config: KeepalivedConfig,
    pub diagnostics: Diagnostics,
    pub sources: SourceMap,
}

impl Parsed {
    /// The exit status `keepalived -t` would give.
    pub fn config_test_exit(&self) -> i32 {
        status::config_test_exit(&self.diagnostics)
    }
}

/// Reads a keepalived.conf from disk, following includes.
pub fn parse_file(
    path: &Path,
    options: &ReadOptions,
    host: &dyn host::Host,
) -> Result<Parsed, Error> {
    let mut sources = SourceMap::new();
    let mut diagnostics = Diagnostics::new();
    let lines =
        reader::read_config(path, options, &mut sources, &mut diagnostics).map_err(|source| {
            Error::Read {
                path: path.to_path_buf(),
                source,
            }
        })?;
    let tree = syntax::build_tree(lines, &mut diagnostics);
    let config = build::build(&tree, host, &mut diagnostics);
    Ok(Parsed {
        config,
        diagnostics,
        sources,
    })
}

/// Reads configuration text; `path` names it in diagnostics and anchors relative includes.
pub fn parse_str(path: &Path, text: &str, options: &ReadOptions, host: &dyn host::Host) -> Parsed {
    let mut sources = SourceMap::new();
    let mut diagnostics = Diagnostics::new();
    let lines = reader::read_str(path, text, options, &mut sources, &mut diagnostics);
    let tree = syntax::build_tree(lines, &mut diagnostics);
    let config = build::build(&tree, host, &mut diagnostics);
    Parsed {
        config,
        diagnostics,
        sources,
    }
}
