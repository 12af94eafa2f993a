//! haproxy.cfg as HAProxy 2.6 reads it: the same words, sections, defaults inheritance,
//! messages and exit status as `haproxy -c`, into a typed model.
//!
//! Map of the crate:
//! - [`lexer`]: one line into words (`parse_line()`: quoting, escapes, `"${VAR}"`).
//! - [`cond`]: `.if`/`.elif` expressions; [`version`]: the HAProxy version we answer as.
//! - [`parse`]: the reading loop (`readcfgfile()`), one module per section kind, and the
//!   checks made after reading (`check_config_validity()`, server address resolution).
//! - [`model`]: the typed configuration.
//! - [`registry`]: the keywords HAProxy 2.6.12 registers (from `haproxy -dKcfg`).
//! - [`suggest`]: HAProxy's "did you mean" fingerprints; [`units`]: times and numbers.
//! - [`errorfile`]: errorfile contents checked as HAProxy checks them.
//! - [`server_state`]: `server-state-file` read and applied to servers at start
//!   (`load-server-state-from-file`), pure.
//! - [`diag`]: HAProxy's message shapes over conf-diag diagnostics.
//! - [`keywords`]: every HAProxy 2.6 keyword and what ha-compat does with it.
//! - [`files`]: `-f FILE|DIR` expansion; [`host`]: user/group lookups behind a trait.
//! - [`error`]: the crate error type, `HaproxyConfError`.

pub mod cond;
pub mod diag;
pub mod error;
pub mod errorfile;
pub mod files;
pub mod host;
pub mod keywords;
pub mod lexer;
pub mod model;
pub mod parse;
pub mod registry;
pub mod server_state;
pub mod suggest;
pub mod units;
pub mod version;

pub use error::HaproxyConfError;
pub use parse::{load, LoadOptions, Loaded, NoResolver, Outcome, Resolver, SystemResolver};
