//! VRRP v2/v3 as keepalived 2.2.7 speaks it (issue 5; being built).
//!
//! Module map:
//! - [`codec`]: the VRRP payload, v2 and v3, IPv4 and IPv6: [`codec::encode`],
//!   [`codec::decode`], checksums (v3 pseudo-header or keepalived's `v3_checksum_as_v2`),
//!   PASS data as keepalived pads it. Pure.
//! - [`rx`]: keepalived's receive checks in its order ([`rx::check`]), each rejection with
//!   keepalived's log message and counter name; AH packets verified (ICV, SPI, sequence
//!   number against the instance's counter, passed in). Pure.
//! - [`ipv4`]: the whole IPv4 packet keepalived sends with `IP_HDRINCL` ([`ipv4::build`]:
//!   its header, TOS 0xc0, TTL 255, id, checksum, and the AH header when sealed). Pure.
//! - [`ah`]: keepalived's IPsec AH (HMAC-MD5-96 keyed with the 8 bytes of `auth_pass`):
//!   sealing, verification, the sequence counter and what keepalived does with it. Pure.
//!   keepalived's log message and counter name. Pure.
//! - [`platform`]: the [`platform::Platform`] seam to the OS; [`linux`]: its Linux
//!   implementation with keepalived's socket options, netlink address requests, GARP and NA.
//! - [`error`]: the crate's error type, [`VrrpError`].
//! - [`script_state`]: a `vrrp_script`'s rise/fall result counter and its log lines. Pure.
//! - [`script_exec`]: keepalived's script user and security rules, and the child set-up.
//! - [`tracker`]: the tracking runner (scripts, processes, files on threads) feeding `Input`.
//! - [`notify`]: notify scripts, `notify_fifo` lines and SMTP alerts on state changes.
//!
//! Still to come (see issue 5): the sans-IO state machine, keepalived's AH (HMAC-MD5-96),
//! the Linux runtime (raw sockets, rtnetlink, GARP/NA) behind one trait.
//! Still to come (see issue 5): the sans-IO state machine, the Linux runtime (raw sockets,
//! rtnetlink, GARP/NA) behind one trait, tracking and notification.
//! the runtime loop over the platform, tracking and notification.

pub mod ah;
pub mod codec;
pub mod error;
pub mod ipv4;
#[cfg(target_os = "linux")]
pub mod linux;
pub mod log;
pub mod machine;
pub mod notify;
pub mod plan;
pub mod platform;
pub mod runtime;
pub mod rx;
pub mod script_exec;
pub mod script_state;
pub mod track;
pub mod tracker;

pub use error::VrrpError;
