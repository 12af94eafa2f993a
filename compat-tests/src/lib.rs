//! Lab support for the comparison tests that run the real programs (keepalived, later haproxy)
//! and ha-compat side by side, inside throwaway network namespaces.
//!
//! This crate is test support: it is only used by the tests in `compat-tests/tests/`. Functions
//! documented as *test-support* panic with a message that says what to do, instead of returning
//! errors, because the only caller is a test that could do nothing better than panic itself.
//!
//! Module map:
//! - [`netns`]: [`Netns`], a named network namespace with veth interfaces and addresses, that
//!   runs commands inside it and is always deleted again (Drop). Later labs (bridges, several
//!   nodes) grow from here.
//! - [`bins`]: where the programs under comparison are: [`reference_keepalived`] (the real
//!   one), [`ours`] / [`ours_as`] (the ha-compat binary, reached through a symlink whose name
//!   selects its personality), [`workspace_root`] / [`target_dir`], and [`require_root`].
//! - [`diag`]: reading keepalived-style diagnostics (`(PATH: Line N) MSG`) back into
//!   message text and line number, so two programs' stderr can be compared (and HAProxy's
//!   `[ALERT] ... [FILE:LINE]` lines).
//! - [`lab`]: [`lab::Lab`], a switch namespace with a bridge and node namespaces (each with
//!   its own PID, mount and UTS namespace, `/etc/keepalived`, `/etc/haproxy` and `/run`),
//!   always torn down; [`lab::leftovers`] says whether anything was left behind.
//! - [`scenario`]: subjects (`HA_COMPAT_SUBJECT`), checks with expected failures, measures,
//!   and the summary table.
//! - [`seeds`]: the five seed setups as lab scenarios.
//! - [`files`]: sorted fixture directory listings and path helpers.
//! - [`adverts`]: VRRP adverts decoded field by field from a tcpdump capture, and the diff of
//!   two subjects' adverts.
//! - [`timeline`]: the lab client's request timeline (`lab-agent client`) read back, with
//!   outages, failures and which backend answered.

pub mod adverts;
pub mod bins;
pub mod diag;
pub mod files;
pub mod lab;
pub mod netns;
pub mod scenario;
pub mod seeds;
pub mod timeline;

pub use bins::{ours, ours_as, reference_keepalived, require_root, target_dir, workspace_root};
pub use diag::Diag;
pub use netns::{exit_code, Netns};
