//! The typed keepalived configuration: what the VRRP engine is given.
//!
//! Values are parsed, not validated later: a [`Vrid`] is 1..=255, a [`Priority`] 1..=255,
//! intervals are [`Duration`]s, addresses are `std::net` types. Defaults are the ones
//! keepalived 2.2.7 applies (see `vrrp_parser.c`, `vrrp_complete_instance()`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use conf_diag::Span;
use serde::Serialize;

/// A whole keepalived.conf as understood.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct KeepalivedConfig {
    pub global: GlobalDefs,
    pub scripts: Vec<VrrpScript>,
    pub track_processes: Vec<TrackProcess>,
    pub track_files: Vec<TrackFile>,
    pub sync_groups: Vec<SyncGroup>,
    pub instances: Vec<VrrpInstance>,
    /// `virtual_server` / `virtual_server_group` / other LVS blocks were present (skipped).
    pub lvs_blocks_skipped: usize,
}

impl KeepalivedConfig {
    pub fn instance(&self, name: &str) -> Option<&VrrpInstance> {
        self.instances.iter().find(|i| i.name == name)
    }

    pub fn script(&self, name: &str) -> Option<&VrrpScript> {
        self.scripts.iter().find(|s| s.name == name)
    }

    /// True when any script would be run (tracking or notify): keepalived then wants
    /// `enable_script_security` or a non-root `script_user`.
    pub fn runs_scripts(&self) -> bool {
        !self.scripts.is_empty()
            || !self.track_processes.is_empty()
            || self.instances.iter().any(|i| !i.notify.is_empty())
            || self.sync_groups.iter().any(|g| !g.notify.is_empty())
            || self.global.notify_fifos().any(|f| f.script.is_some())
    }
}

/// `global_defs`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GlobalDefs {
    pub router_id: Option<String>,
    pub notification_email: Vec<String>,
    pub notification_email_from: Option<String>,
    pub smtp_server: Option<SmtpServer>,
    pub smtp_helo_name: Option<String>,
    pub smtp_connect_timeout: Duration,
    /// `smtp_alert` / `smtp_alert_vrrp` in global_defs: the default for every instance.
    pub smtp_alert: Option<bool>,
    pub enable_script_security: bool,
    pub script_user: Option<ScriptUser>,
    pub garp: GarpTimers,
    pub vrrp_garp_interval: Duration,
    pub vrrp_gna_interval: Duration,
    pub vrrp_version: VrrpVersion,
    pub vrrp_strict: bool,
    pub vrrp_skip_check_adv_addr: bool,
    pub vrrp_check_unicast_src: bool,
    pub vrrp_mcast_group4: Ipv4Addr,
    pub vrrp_mcast_group6: Ipv6Addr,
    pub vrrp_priority: Option<i32>,
    pub vrrp_no_swap: bool,
    pub max_auto_priority: Option<i32>,
    pub dynamic_interfaces: bool,
    /// `notify_fifo`: every VRRP state line is written to it (and, in keepalived, the
    /// checker's LVS lines too).
    pub notify_fifo: Option<NotifyFifo>,
    /// `vrrp_notify_fifo`: the VRRP lines only. It may name the `notify_fifo`: keepalived
    /// then writes every line twice (until a reload, which drops this one).
    pub vrrp_notify_fifo: Option<NotifyFifo>,
}

impl GlobalDefs {
    /// The notify FIFOs in keepalived's opening order: `notify_fifo`, then `vrrp_notify_fifo`.
    pub fn notify_fifos(&self) -> impl Iterator<Item = &NotifyFifo> {
        self.notify_fifo.iter().chain(self.vrrp_notify_fifo.iter())
    }
}

/// `notify_fifo PATH [USER [GROUP]]` (or `vrrp_notify_fifo`) with its `*_fifo_script`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotifyFifo {
    pub path: String,
    /// Who owns the FIFO when keepalived creates it; `None`: the default script user.
    pub owner: Option<ScriptUser>,
    /// `notify_fifo_script COMMAND [USER [GROUP]]`: started with the FIFO's path as its last
    /// argument, before the FIFO is opened.
    pub script: Option<Command>,
}

impl Default for GlobalDefs {
    fn default() -> Self {
        GlobalDefs {
            router_id: None,
            notification_email: Vec::new(),
            notification_email_from: None,
            smtp_server: None,
            smtp_helo_name: None,
            smtp_connect_timeout: Duration::from_secs(30),
            smtp_alert: None,
            enable_script_security: false,
            script_user: None,
            garp: GarpTimers::default(),
            vrrp_garp_interval: Duration::ZERO,
            vrrp_gna_interval: Duration::ZERO,
            vrrp_version: VrrpVersion::V2,
            vrrp_strict: false,
            vrrp_skip_check_adv_addr: false,
            vrrp_check_unicast_src: false,
            vrrp_mcast_group4: Ipv4Addr::new(224, 0, 0, 18),
            vrrp_mcast_group6: Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12),
            vrrp_priority: None,
            vrrp_no_swap: false,
            max_auto_priority: None,
            dynamic_interfaces: false,
            notify_fifo: None,
            vrrp_notify_fifo: None,
        }
    }
}

/// `smtp_server ADDRESS [PORT]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SmtpServer {
    /// An IP address or a host name, as written.
    pub host: String,
    pub port: u16,
}

/// `script_user USER [GROUP]` (global or per script).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScriptUser {
    pub user: String,
    pub group: Option<String>,
}

/// Gratuitous ARP / unsolicited NA timings on becoming master.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GarpTimers {
    /// Second burst this long after becoming master (`garp_master_delay`, default 5 s).
    pub master_delay: Duration,
    /// Messages in each burst (`garp_master_repeat`, default 5).
    pub master_repeat: u32,
    /// Periodic refresh while master (`garp_master_refresh`, default off).
    pub master_refresh: Option<Duration>,
    pub master_refresh_repeat: u32,
    /// After a lower-priority advert is seen while master (`garp_lower_prio_delay`).
    pub lower_prio_delay: Option<Duration>,
    pub lower_prio_repeat: Option<u32>,
}

impl Default for GarpTimers {
    fn default() -> Self {
        GarpTimers {
            master_delay: Duration::from_secs(5),
            master_repeat: 5,
            master_refresh: None,
            master_refresh_repeat: 1,
            lower_prio_delay: None,
            lower_prio_repeat: None,
        }
    }
}

/// VRRP protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum VrrpVersion {
    V2,
    V3,
}

/// `vrrp_script NAME { ... }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VrrpScript {
    pub name: String,
    /// The command split as keepalived splits it (shell-like quoting, no shell is run).
    pub command: Vec<String>,
    pub interval: Duration,
    pub timeout: Option<Duration>,
    /// Added to the priority while OK (positive) or while failing (negative); 0 means a
    /// failure puts the tracking instances in FAULT.
    pub weight: Weight,
    /// `weight N reverse`: the sense of the weight is inverted.
    pub weight_reverse: bool,
    pub rise: u32,
    pub fall: u32,
    pub user: Option<ScriptUser>,
    /// `init_fail`: start in the failed state.
    pub init_fail: bool,
    #[serde(skip)]
    pub span: Option<Span>,
}

/// A priority adjustment, -253..=253 (keepalived's range for tracker weights).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize)]
pub struct Weight(i16);

impl Weight {
    pub const MIN: i16 = -253;
    pub const MAX: i16 = 253;

    pub fn new(value: i64) -> Option<Weight> {
        if (i64::from(Self::MIN)..=i64::from(Self::MAX)).contains(&value) {
            Some(Weight(value as i16))
        } else {
            None
        }
    }

    pub fn get(self) -> i16 {
        self.0
    }
}

/// `vrrp_track_process NAME { ... }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrackProcess {
    pub name: String,
    pub process: Option<String>,
    pub param_match: Option<String>,
    pub weight: Weight,
    pub weight_reverse: bool,
    pub quorum: u32,
    pub quorum_max: Option<u32>,
    pub delay: Option<Duration>,
    pub terminate_delay: Option<Duration>,
    pub fork_delay: Option<Duration>,
    pub full_command: bool,
}

/// `track_file NAME { file PATH; weight N [reverse]; init_file [VALUE] [overwrite] }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrackFile {
    pub name: String,
    pub file: Option<String>,
    pub weight: Weight,
    pub weight_reverse: bool,
    pub init_file: Option<(i64, bool)>,
}

/// `vrrp_sync_group NAME { group { ... } ... }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncGroup {
    pub name: String,
    pub instances: Vec<String>,
    pub notify: Notify,
    pub smtp_alert: Option<bool>,
    pub global_tracking: bool,
    pub sync_group_tracking_weight: bool,
    pub track_interfaces: Vec<TrackRef>,
    pub track_scripts: Vec<TrackRef>,
    pub track_files: Vec<TrackRef>,
    pub track_processes: Vec<TrackRef>,
}

/// The state an instance asks for at start-up (it always enters BACKUP first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum InitialState {
    Master,
    Backup,
}

/// VRRP router id, 1..=255.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Vrid(u8);

impl Vrid {
    pub const MIN: Vrid = Vrid(1);

    pub fn new(value: i64) -> Option<Vrid> {
        u8::try_from(value).ok().filter(|v| *v >= 1).map(Vrid)
    }
    pub fn get(self) -> u8 {
        self.0
    }
}

/// Configured VRRP priority, 1..=255 (255 = address owner).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Priority(u8);

impl Priority {
    pub const DEFAULT: Priority = Priority(100);
    pub const OWNER: Priority = Priority(255);

    pub fn new(value: i64) -> Option<Priority> {
        u8::try_from(value).ok().filter(|v| *v >= 1).map(Priority)
    }
    pub fn get(self) -> u8 {
        self.0
    }
}

/// Authentication of VRRPv2 adverts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Authentication {
    /// Simple password, at most 8 bytes (longer ones are truncated with a warning).
    Pass(String),
    /// keepalived's IPSEC-AH (HMAC-MD5-96) with this key.
    Ah(String),
}

/// `scope` of an address or route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Scope {
    Global,
    Site,
    Link,
    Host,
    Nowhere,
    Numeric(u8),
}

/// One line of `virtual_ipaddress` / `virtual_ipaddress_excluded`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VirtualIp {
    pub addr: IpAddr,
    /// `/32` or `/128` when no mask is written.
    pub prefix_len: u8,
    pub broadcast: Option<Broadcast>,
    pub dev: Option<String>,
    pub scope: Scope,
    pub label: Option<String>,
    pub peer: Option<(IpAddr, Option<u8>)>,
    pub home: bool,
    pub nodad: bool,
    pub noprefixroute: bool,
    pub autojoin: bool,
    pub no_track: bool,
    pub track_group: Option<String>,
    #[serde(skip)]
    pub span: Option<Span>,
}

/// `brd ADDR`, or `brd +` / `brd -` (computed from the prefix / none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Broadcast {
    Address(Ipv4Addr),
    Computed,
    Clear,
}

/// One line of `virtual_routes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VirtualRoute {
    /// `None` for `default`.
    pub dst: Option<(IpAddr, u8)>,
    pub src: Option<IpAddr>,
    pub via: Option<IpAddr>,
    pub dev: Option<String>,
    pub scope: Option<Scope>,
    pub table: Option<u32>,
    pub metric: Option<u32>,
    pub blackhole: bool,
    pub no_track: bool,
    /// Options written that the model keeps as text (`proto`, `mtu`, `onlink` ...).
    pub other: Vec<String>,
}

/// A tracked item in an instance or sync group, with its optional weight override.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackRef {
    pub name: String,
    pub weight: Option<Weight>,
    pub reverse: bool,
}

/// `unicast_peer { ADDR [min_ttl N] [max_ttl N] }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnicastPeer {
    pub addr: IpAddr,
    pub min_ttl: Option<u8>,
    pub max_ttl: Option<u8>,
}

/// A notify command line, split like keepalived splits it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Command {
    pub argv: Vec<String>,
    pub user: Option<ScriptUser>,
}

/// `notify*` scripts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Notify {
    pub any: Option<Command>,
    pub master: Option<Command>,
    pub backup: Option<Command>,
    pub fault: Option<Command>,
    pub stop: Option<Command>,
    pub deleted: Option<Command>,
    pub master_rx_lower_pri: Option<Command>,
}

impl Notify {
    pub fn is_empty(&self) -> bool {
        self.any.is_none()
            && self.master.is_none()
            && self.backup.is_none()
            && self.fault.is_none()
            && self.stop.is_none()
            && self.deleted.is_none()
            && self.master_rx_lower_pri.is_none()
    }
}

/// `vrrp_instance NAME { ... }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VrrpInstance {
    pub name: String,
    pub initial_state: InitialState,
    /// Always set in a configuration that built: an instance without one is refused.
    pub interface: String,
    pub vrid: Vrid,
    /// Configured priority, with keepalived's defaults applied (255 for `state MASTER`
    /// without `priority`, else 100).
    pub priority: Priority,
    pub advert_int: Duration,
    pub version: VrrpVersion,
    pub nopreempt: bool,
    pub preempt_delay: Duration,
    pub unicast_src_ip: Option<IpAddr>,
    pub unicast_peers: Vec<UnicastPeer>,
    pub mcast_src_ip: Option<IpAddr>,
    pub authentication: Option<Authentication>,
    pub virtual_ipaddresses: Vec<VirtualIp>,
    pub virtual_ipaddresses_excluded: Vec<VirtualIp>,
    pub virtual_routes: Vec<VirtualRoute>,
    /// Where the (last) `virtual_routes` block is, for messages about it.
    #[serde(skip)]
    pub virtual_routes_span: Option<Span>,
    pub track_interfaces: Vec<TrackRef>,
    pub track_scripts: Vec<TrackRef>,
    pub track_processes: Vec<TrackRef>,
    pub track_files: Vec<TrackRef>,
    pub notify: Notify,
    pub smtp_alert: Option<bool>,
    pub garp: GarpTimers,
    pub accept: Option<bool>,
    /// `use_vmac [NAME]`: the macvlan name (keepalived's default `vrrp.VRID`).
    pub use_vmac: Option<String>,
    /// Where `use_vmac` is, for messages about it.
    #[serde(skip)]
    pub use_vmac_span: Option<Span>,
    pub vmac_xmit_base: bool,
    pub dont_track_primary: bool,
    pub skip_check_adv_addr: bool,
    pub strict_mode: Option<bool>,
    pub lvs_sync_daemon_interface: Option<String>,
    #[serde(skip)]
    pub span: Option<Span>,
}
