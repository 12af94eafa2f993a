//! VRRP v2/v3 as keepalived 2.2.7 speaks it: on the wire, in its timers and in its logs.
//!
//! Module map (pure modules first, then the runtime and the OS side):
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
//! - [`machine`]: one instance's state machine, `handle(event, now) -> actions`, with
//!   keepalived's transitions, timers, preemption, tracking weights and log lines. Pure.
//! - [`sync_group`]: `vrrp_sync_group`: a [`sync_group::Node`] holds every instance and
//!   moves the members of a group together (MASTER, BACKUP, FAULT), with the groups' log
//!   lines and notifications, as keepalived's `vrrp_sync.c`. Pure.
//! - [`track`]: tracker ids and states; [`script_state`]: a `vrrp_script`'s rise/fall
//!   counter and its log lines. Pure.
//! - [`plan`]: the typed configuration to what runs (machine parameters, channels,
//!   adverts, address specs), and what the engine refuses to run yet. Pure.
//! - [`dump`]: keepalived's signal dumps (`/tmp/keepalived.data`, `.stats`, `.json`)
//!   rendered from a [`dump::Snapshot`] of the runtime. Pure but for [`dump::write_dump`].
//! - [`metrics`]: Prometheus metrics under keepalived-exporter's names, labels and values,
//!   rendered from the same [`dump::Snapshot`] (plus our own priority gauges). Pure.
//! - [`status`]: the status JSON of `ha-compat status` from a [`dump::Snapshot`] (pure),
//!   and the VRRP child's status socket (`$HA_COMPAT_STATUS_DIR/vrrp.sock`): its server
//!   thread and a client ([`status::request`]).
//! - [`log`]: keepalived's console and syslog line formats and the sinks.
//! - [`runtime`]: the one loop: inputs from a queue, timers from the machines' deadlines,
//!   actions carried out through a [`platform::Platform`].
//! - [`platform`]: the seam to the OS; [`linux`]: its Linux implementation with
//!   keepalived's socket options, netlink address requests and link watch, GARP and NA.
//! - [`tracker`]: the tracking runner (scripts, processes, files on threads) feeding the
//!   runtime's queue; [`script_exec`]: keepalived's script user and security rules.
//! - [`notify`]: notify scripts, `notify_fifo` lines and SMTP alerts on state changes;
//!   [`notify_fifo`]: the global notify FIFOs, their scripts, and what reload and
//!   shut-down do to them.
//! - [`error`]: the crate's error type, [`VrrpError`].

pub mod ah;
pub mod codec;
pub mod dump;
pub mod error;
pub mod ipv4;
#[cfg(target_os = "linux")]
pub mod linux;
pub mod log;
pub mod machine;
pub mod metrics;
pub mod notify;
pub mod notify_fifo;
pub mod plan;
pub mod platform;
pub mod runtime;
pub mod rx;
pub mod script_exec;
pub mod script_state;
pub mod status;
pub mod sync_group;
pub mod track;
pub mod tracker;

pub use error::VrrpError;
