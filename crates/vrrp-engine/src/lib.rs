//! VRRP v2/v3 as keepalived 2.2.7 speaks it (issue 5; being built).
//!
//! Module map:
//! - [`codec`]: the VRRP payload, v2 and v3, IPv4 and IPv6: [`codec::encode`],
//!   [`codec::decode`], checksums (v3 pseudo-header or keepalived's `v3_checksum_as_v2`),
//!   PASS data as keepalived pads it. Pure.
//! - [`rx`]: keepalived's receive checks in its order ([`rx::check`]), each rejection with
//!   keepalived's log message and counter name. Pure.
//! - [`platform`]: the [`platform::Platform`] seam to the OS; [`linux`]: its Linux
//!   implementation with keepalived's socket options, netlink address requests, GARP and NA.
//! - [`error`]: the crate's error type, [`VrrpError`].
//!
//! Still to come (see issue 5): the sans-IO state machine, keepalived's AH (HMAC-MD5-96),
//! the runtime loop over the platform, tracking and notification.

pub mod codec;
pub mod error;
#[cfg(target_os = "linux")]
pub mod linux;
pub mod platform;
pub mod rx;
pub mod track;

pub use error::VrrpError;
