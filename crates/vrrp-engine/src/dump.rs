//! keepalived's signal dumps: SIGUSR1 writes `/tmp/keepalived.data`, SIGUSR2
//! `/tmp/keepalived.stats`, SIGRTMIN+2 `/tmp/keepalived.json`, in keepalived 2.2.7's layout
//! (measured: `fixtures/keepalived/dumps/REFERENCE.md`). Pure: a [`Snapshot`] of the
//! running instances in, text out; the runtime takes the snapshot and writes the file
//! ([`write_dump`]).

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use crate::machine::State;

/// Which dump a signal asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpKind {
    /// SIGUSR1: `/tmp/keepalived.data`.
    Data,
    /// SIGUSR2: `/tmp/keepalived.stats`.
    Stats,
    /// SIGRTMIN+2: `/tmp/keepalived.json`.
    Json,
}

impl DumpKind {
    /// The file keepalived writes (fixed paths in 2.2.7 without a `--namespace`).
    pub fn path(self) -> &'static Path {
        Path::new(match self {
            DumpKind::Data => "/tmp/keepalived.data",
            DumpKind::Stats => "/tmp/keepalived.stats",
            DumpKind::Json => "/tmp/keepalived.json",
        })
    }
}

/// A wall-clock time as keepalived prints it: seconds and microseconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WallTime {
    pub secs: i64,
    pub micros: u32,
}

impl WallTime {
    /// `std::time::SystemTime` to keepalived's `timeval`.
    pub fn from_system(t: std::time::SystemTime) -> WallTime {
        let d = t
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        WallTime {
            secs: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            micros: d.subsec_micros(),
        }
    }

    /// `1795378707.043313 (Sun Nov 22 20:18:27.043313 2026)`: keepalived's
    /// `ctime_us` in the local zone.
    fn data_form(self) -> String {
        let ctime = crate::log::console_time(&crate::log::local_civil(self.secs));
        // ctime is `Www Mmm dd hh:mm:ss yyyy`: the microseconds go before the year.
        let (front, year) = ctime.rsplit_once(' ').unwrap_or((ctime.as_str(), ""));
        format!(
            "{}.{:06} ({front}.{:06} {year})",
            self.secs, self.micros, self.micros
        )
    }
}

/// Authentication as the dumps show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DumpAuth {
    None,
    /// `auth_type PASS` with its password (as sent: at most 8 bytes).
    Pass(String),
    /// `auth_type AH` with its password.
    Ah(String),
}

/// keepalived's per-instance counters (`vrrp_stats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    pub advert_rcvd: u64,
    pub advert_sent: u64,
    pub become_master: u64,
    pub release_master: u64,
    pub packet_len_err: u64,
    pub advert_interval_err: u64,
    pub ip_ttl_err: u64,
    pub invalid_type_rcvd: u64,
    pub addr_list_err: u64,
    pub invalid_authtype: u64,
    pub authtype_mismatch: u64,
    pub auth_failure: u64,
    pub pri_zero_rcvd: u64,
    pub pri_zero_sent: u64,
}

impl Counters {
    /// Counts a received packet refused under keepalived's stats name `name` (the names
    /// of [`crate::rx::Rejection::counter`]; those keepalived does not show are dropped).
    pub fn count_rejection(&mut self, name: &str) {
        let field = match name {
            "packet_len_err" => &mut self.packet_len_err,
            "advert_interval_err" => &mut self.advert_interval_err,
            "ip_ttl_err" => &mut self.ip_ttl_err,
            "invalid_type_rcvd" => &mut self.invalid_type_rcvd,
            "addr_list_err" => &mut self.addr_list_err,
            "invalid_authtype" => &mut self.invalid_authtype,
            "authtype_mismatch" => &mut self.authtype_mismatch,
            "auth_failure" => &mut self.auth_failure,
            _ => return,
        };
        *field += 1;
    }
}

/// One instance, as the dumps show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceDump {
    pub name: String,
    pub version: u8,
    pub state: State,
    pub wantstate: State,
    pub last_transition: WallTime,
    /// When the instance's timer runs out next (`Read timeout`; `None`: `DISABLED`, as
    /// in FAULT).
    pub read_timeout: Option<WallTime>,
    pub interface: String,
    pub source: IpAddr,
    /// `unicast_src_ip` / `mcast_src_ip` given (`Using src_ip = X (from configuration)`).
    pub source_configured: bool,
    /// The multicast group (`None`: unicast).
    pub multicast_group: Option<IpAddr>,
    /// Unicast peers: address, `min_ttl`, `max_ttl`.
    pub unicast_peers: Vec<(IpAddr, u8, u8)>,
    /// `vrrp_check_unicast_src`.
    pub check_unicast_src: bool,
    pub garp_delay_secs: u64,
    pub garp_repeat: u32,
    pub garp_refresh_secs: u64,
    pub garp_refresh_repeat: u32,
    pub garp_lower_prio_delay_secs: u64,
    pub garp_lower_prio_repeat: u32,
    pub vrid: u8,
    pub base_priority: u8,
    pub effective_priority: u8,
    /// The priority of the master last heard (0 while master).
    pub master_priority: u8,
    /// The address of the master last heard (shown in BACKUP).
    pub master_addr: Option<IpAddr>,
    /// The `vrrp_sync_group` the instance is in.
    pub sync_group: Option<String>,
    /// How many of `vips` (the last ones) are `virtual_ipaddress_excluded`.
    pub excluded_vips: usize,
    /// `track_interface` names (the JSON's `track_ifp`).
    pub track_interfaces: Vec<String>,
    /// Notify scripts for the JSON (`script_backup`, `script_master`, ...): field name and
    /// keepalived's `cmd_str`.
    pub notify_scripts: Vec<(&'static str, String)>,
    /// Notify scripts for the data dump: kind (`Master`, `Generic`...), `cmd_str`, uid, gid.
    pub notify_lines: Vec<(&'static str, String, u32, u32)>,
    /// `track_interface`s with the weight the instance uses.
    pub tracked_interfaces: Vec<(String, i16)>,
    pub advert_int: Duration,
    pub master_adver_int: Duration,
    pub nopreempt: bool,
    pub preempt_delay_secs: u64,
    pub skip_check_adv_addr: bool,
    pub auth: DumpAuth,
    /// Each VIP as keepalived formats it: `10.0.0.100/24 dev eth0 scope global`.
    pub vips: Vec<String>,
    /// Whether the VIPs are set (master).
    pub vips_set: bool,
    /// Tracked scripts: name, weight.
    pub scripts: Vec<(String, i16)>,
    /// Socket descriptors (`fd_in`, `fd_out`), if known.
    pub fds: (i32, i32),
    pub counters: Counters,
}

/// One `vrrp_script`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptDump {
    pub name: String,
    /// The command as keepalived shows it: words, the program as resolved.
    pub command: Vec<String>,
    pub interval_secs: u64,
    pub timeout_secs: u64,
    pub weight: i16,
    pub rise: u32,
    pub fall: u32,
    /// `None`: no result yet.
    pub good: Option<bool>,
    /// Tracking instances: name, weight.
    pub tracking: Vec<(String, i16)>,
}

/// One interface of the namespace, as the data dump shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InterfaceDump {
    pub name: String,
    pub index: u32,
    /// The primary IPv4 address, then the others (the engine's VIPs left out, as
    /// keepalived leaves out its own).
    pub ipv4: Vec<std::net::Ipv4Addr>,
    /// The link-local IPv6 addresses (keepalived shows no other).
    pub ipv6: Vec<std::net::Ipv6Addr>,
    /// Hardware and broadcast addresses (empty, or all zero: none shown).
    pub mac: Vec<u8>,
    pub broadcast: Vec<u8>,
    /// The kernel's `IFF_*` flags.
    pub flags: u32,
    pub mtu: u32,
    /// `ARPHRD_*`.
    pub hw_type: u16,
    /// `vrrp_garp_interval` / `vrrp_gna_interval` on an interface an instance uses.
    pub garp_interval: Duration,
    pub gna_interval: Duration,
    /// Instances tracking the interface: name, weight.
    pub tracking: Vec<(String, i16)>,
}

/// One `vrrp_sync_group`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDump {
    pub name: String,
    pub state: State,
    pub members: Vec<String>,
    /// Members in FAULT.
    pub members_fault: usize,
}

/// What the dumps show of the running engine.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    pub groups: Vec<GroupDump>,
    /// `router_id` (keepalived's default is the host name).
    pub router_id: String,
    pub global: GlobalDump,
    pub instances: Vec<InstanceDump>,
    pub scripts: Vec<ScriptDump>,
    /// Every interface of the namespace, in the kernel's order.
    pub interfaces: Vec<InterfaceDump>,
}

const IFF_UP: u32 = 0x1;
const IFF_BROADCAST: u32 = 0x2;
const IFF_LOOPBACK: u32 = 0x8;
const IFF_POINTOPOINT: u32 = 0x10;
const IFF_RUNNING: u32 = 0x40;
const IFF_NOARP: u32 = 0x80;
const IFF_MULTICAST: u32 = 0x1000;

fn mac_text(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// keepalived's `dump_if` (2.2.7, lines as measured, conditional ones from its source).
fn render_interface(s: &mut String, i: &InterfaceDump) {
    let _ = writeln!(s, " Name = {}", i.name);
    let _ = writeln!(s, "   index = {}", i.index);
    match i.ipv4.split_first() {
        Some((first, rest)) => {
            let _ = writeln!(s, "   IPv4 address = {first}");
            if !rest.is_empty() {
                s.push_str("   Additional IPv4 addresses :\n");
                for a in rest {
                    let _ = writeln!(s, "     {a}");
                }
            }
        }
        None => s.push_str("   IPv4 address = (none)\n"),
    }
    match i.ipv6.split_first() {
        Some((first, rest)) => {
            let _ = writeln!(s, "   IPv6 address = {first}");
            if !rest.is_empty() {
                s.push_str("   Additional IPv6 addresses :\n");
                for a in rest {
                    let _ = writeln!(s, "     {a}");
                }
            }
        }
        None => s.push_str("   IPv6 address = (none)\n"),
    }
    if i.mac.iter().any(|b| *b != 0) {
        let _ = writeln!(s, "   MAC = {}", mac_text(&i.mac));
        let _ = writeln!(s, "   MAC broadcast = {}", mac_text(&i.broadcast));
    }
    let f = i.flags;
    let _ = writeln!(
        s,
        "   State = {}UP, {}RUNNING{}{}{}{}{}",
        if f & IFF_UP != 0 { "" } else { "not " },
        if f & IFF_RUNNING != 0 { "" } else { "not " },
        if f & IFF_BROADCAST == 0 {
            ", no broadcast"
        } else {
            ""
        },
        if f & IFF_LOOPBACK != 0 {
            ", loopback"
        } else {
            ""
        },
        if f & IFF_POINTOPOINT != 0 {
            ", point to point"
        } else {
            ""
        },
        if f & IFF_NOARP != 0 { ", no arp" } else { "" },
        if f & IFF_MULTICAST == 0 {
            ", no multicast"
        } else {
            ""
        },
    );
    let _ = writeln!(
        s,
        "   Seen up = {}",
        u8::from(f & IFF_UP != 0 && f & IFF_RUNNING != 0)
    );
    s.push_str("   Delayed state change running = false\n");
    s.push_str("   Up debounce timer = 0us\n   Down debounce timer = 0us\n");
    let _ = writeln!(s, "   MTU = {}", i.mtu);
    match i.hw_type {
        772 => s.push_str("   HW Type = LOOPBACK\n"),
        1 => s.push_str("   HW Type = ETHERNET\n"),
        n => {
            let _ = writeln!(s, "   HW Type = UNKNOWN ({n})");
        }
    }
    s.push_str("   NIC netlink status update\n");
    if !i.garp_interval.is_zero() {
        let _ = writeln!(
            s,
            "   Gratuitous ARP interval {}ms",
            i.garp_interval.as_millis()
        );
    }
    if !i.gna_interval.is_zero() {
        let _ = writeln!(
            s,
            "   Gratuitous NA interval {}ms",
            i.gna_interval.as_millis()
        );
    }
    s.push_str(
        "   Reset ARP config counter 0\n   Original arp_ignore 0\n   Original arp_filter 0\n",
    );
    s.push_str("   Original promote_secondaries 0\n   Reset promote_secondaries counter 0\n");
    if !i.tracking.is_empty() {
        s.push_str("   Tracking VRRP instances :\n");
        for (name, weight) in &i.tracking {
            let _ = writeln!(s, "     {name}, weight {weight}");
        }
    }
}

/// keepalived's numeric state (`VRRP_STATE_*`) for the JSON dump.
pub(crate) fn state_number(state: State) -> u8 {
    match state {
        State::Init => 0,
        State::Backup => 1,
        State::Master => 2,
        State::Fault => 3,
        State::Stopped => 98,
    }
}

/// keepalived's `/tmp/keepalived.stats` (`vrrp_print_stats`).
pub fn render_stats(snapshot: &Snapshot) -> String {
    let mut s = String::new();
    for i in &snapshot.instances {
        let c = &i.counters;
        // Writing to a String cannot fail.
        let _ = write!(
            s,
            "VRRP Instance: {}\n  Advertisements:\n    Received: {}\n    Sent: {}\n  \
             Became master: {}\n  Released master: {}\n  Packet Errors:\n    Length: {}\n    \
             TTL: {}\n    Invalid Type: {}\n    Advertisement Interval: {}\n    \
             Address List: {}\n  Authentication Errors:\n    Invalid Type: {}\n    \
             Type Mismatch: {}\n    Failure: {}\n  Priority Zero:\n    Received: {}\n    \
             Sent: {}\n",
            i.name,
            c.advert_rcvd,
            c.advert_sent,
            c.become_master,
            c.release_master,
            c.packet_len_err,
            c.ip_ttl_err,
            c.invalid_type_rcvd,
            c.advert_interval_err,
            c.addr_list_err,
            c.invalid_authtype,
            c.authtype_mismatch,
            c.auth_failure,
            c.pri_zero_rcvd,
            c.pri_zero_sent,
        );
    }
    s
}

/// A JSON string as json-c writes it (`/` escaped too).
fn json_str(text: &str) -> String {
    let mut out = String::from("\"");
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn quoted_command(command: &[String]) -> String {
    command
        .iter()
        .map(|w| format!("'{w}'"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// keepalived's `/tmp/keepalived.json` (`vrrp_print_json`).
pub fn render_json(snapshot: &Snapshot) -> String {
    let mut items = Vec::new();
    for i in &snapshot.instances {
        let (auth_type, auth_data) = match &i.auth {
            DumpAuth::None => (0, None),
            DumpAuth::Pass(p) => (1, Some(p)),
            DumpAuth::Ah(p) => (2, Some(p)),
        };
        let shown = |v: &String| json_str(&format!("{v}{}", if i.vips_set { " set" } else { "" }));
        let split = i.vips.len().saturating_sub(i.excluded_vips);
        let vips: Vec<String> = i.vips[..split].iter().map(shown).collect();
        let evips: Vec<String> = i.vips[split..].iter().map(shown).collect();
        let ifps: Vec<String> = i.track_interfaces.iter().map(|n| json_str(n)).collect();
        let scripts: Vec<String> = i
            .scripts
            .iter()
            .filter_map(|(name, _)| snapshot.scripts.iter().find(|s| &s.name == name))
            .map(|s| json_str(&quoted_command(&s.command)))
            .collect();
        // keepalived's `vrrp_json_array_dump` leaves out an empty list altogether.
        let mut lists = String::new();
        for (name, items) in [
            ("vips", &vips),
            ("evips", &evips),
            ("track_ifp", &ifps),
            ("track_script", &scripts),
        ] {
            if !items.is_empty() {
                let _ = write!(lists, ",\"{name}\":[{}]", items.join(","));
            }
        }
        let mut notify = String::new();
        for (name, cmd) in &i.notify_scripts {
            let _ = write!(notify, ",\"{name}\":{}", json_str(cmd));
        }
        let mut d = String::new();
        let _ = write!(
            d,
            "{{\"iname\":{},\"dont_track_primary\":0,\"skip_check_adv_addr\":{},\
             \"strict_mode\":0,\"vmac_ifname\":\"\",\"ifp_ifname\":{},\"master_priority\":{},\
             \"last_transition\":{}.{:06},\"garp_delay\":{},\"garp_refresh\":{},\"garp_rep\":{},\
             \"garp_refresh_rep\":{},\"garp_lower_prio_delay\":{},\"garp_lower_prio_rep\":{},\
             \"lower_prio_no_advert\":0,\"higher_prio_send_advert\":0,\"vrid\":{},\
             \"base_priority\":{},\"effective_priority\":{},\"vipset\":{},\
             \"promote_secondaries\":false,\"adver_int\":{},\"master_adver_int\":{},\
             \"accept\":1,\"nopreempt\":{},\"preempt_delay\":{},\"state\":{},\"wantstate\":{},\
             \"version\":{},\"smtp_alert\":false,\"notify_deleted\":false{}{},\
             \"auth_type\":{}",
            json_str(&i.name),
            u8::from(i.skip_check_adv_addr),
            json_str(&i.interface),
            i.master_priority,
            i.last_transition.secs,
            i.last_transition.micros,
            i.garp_delay_secs,
            i.garp_refresh_secs,
            i.garp_repeat,
            i.garp_refresh_repeat,
            i.garp_lower_prio_delay_secs,
            i.garp_lower_prio_repeat,
            i.vrid,
            i.base_priority,
            i.effective_priority,
            i.vips_set,
            i.advert_int.as_secs_f64(),
            i.master_adver_int.as_secs_f64(),
            i.nopreempt,
            i.preempt_delay_secs,
            state_number(i.state),
            state_number(i.wantstate),
            i.version,
            notify,
            lists,
            auth_type,
        );
        if let Some(p) = auth_data {
            let _ = write!(d, ",\"auth_data\":{}", json_str(p));
        }
        d.push('}');
        let c = &i.counters;
        let stats = format!(
            "{{\"advert_rcvd\":{},\"advert_sent\":{},\"become_master\":{},\
             \"release_master\":{},\"packet_len_err\":{},\"advert_interval_err\":{},\
             \"ip_ttl_err\":{},\"invalid_type_rcvd\":{},\"addr_list_err\":{},\
             \"invalid_authtype\":{},\"authtype_mismatch\":{},\"auth_failure\":{},\
             \"pri_zero_rcvd\":{},\"pri_zero_sent\":{}}}",
            c.advert_rcvd,
            c.advert_sent,
            c.become_master,
            c.release_master,
            c.packet_len_err,
            c.advert_interval_err,
            c.ip_ttl_err,
            c.invalid_type_rcvd,
            c.addr_list_err,
            c.invalid_authtype,
            c.authtype_mismatch,
            c.auth_failure,
            c.pri_zero_rcvd,
            c.pri_zero_sent,
        );
        items.push(format!("{{\"data\":{d},\"stats\":{stats}}}"));
    }
    format!("[{}]\n", items.join(","))
}

/// The `global_defs` values the data dump shows (the others are printed with keepalived
/// 2.2.7's defaults: ha-compat refuses or does not run what would change them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalDump {
    pub dynamic_interfaces: bool,
    pub mcast_group4: std::net::Ipv4Addr,
    pub mcast_group6: std::net::Ipv6Addr,
    pub garp_delay_secs: u64,
    pub garp_repeat: u32,
    pub garp_refresh_secs: u64,
    pub garp_refresh_repeat: u32,
    pub garp_lower_prio_delay_secs: u64,
    pub garp_lower_prio_repeat: u32,
    pub garp_interval: Duration,
    pub gna_interval: Duration,
    pub version: u8,
    pub check_unicast_src: bool,
    pub skip_check_adv_addr: bool,
    pub strict: bool,
    pub script_security: bool,
    /// The default script user's uid and gid.
    pub script_uid_gid: (u32, u32),
}

impl Default for GlobalDump {
    /// keepalived 2.2.7's defaults.
    fn default() -> Self {
        GlobalDump {
            dynamic_interfaces: false,
            mcast_group4: std::net::Ipv4Addr::new(224, 0, 0, 18),
            mcast_group6: std::net::Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12),
            garp_delay_secs: 5,
            garp_repeat: 5,
            garp_refresh_secs: 0,
            garp_refresh_repeat: 1,
            garp_lower_prio_delay_secs: 5,
            garp_lower_prio_repeat: 5,
            garp_interval: Duration::ZERO,
            gna_interval: Duration::ZERO,
            version: 2,
            check_unicast_src: false,
            skip_check_adv_addr: false,
            strict: false,
            script_security: false,
            script_uid_gid: (0, 0),
        }
    }
}

/// keepalived's `dump_global_data` for the VRRP process (2.2.7, measured with its
/// defaults and with the values of [`GlobalDump`] changed).
fn render_global(s: &mut String, router_id: &str, g: &GlobalDump) {
    let tf = |b: bool| if b { "true" } else { "false" };
    s.push_str(" Network namespace = (default)\n Network namespace ipvs = (main namespace)\n");
    let _ = writeln!(s, " Router ID = {router_id}");
    s.push_str(GLOBAL_SMTP_LINES);
    let _ = writeln!(s, " Dynamic interfaces = {}", tf(g.dynamic_interfaces));
    if g.dynamic_interfaces {
        s.push_str(" Allow interface changes = false\n");
    }
    s.push_str(GLOBAL_LVS_LINES);
    let _ = writeln!(s, " VRRP IPv4 mcast group = {}", g.mcast_group4);
    let _ = writeln!(s, " VRRP IPv6 mcast group = {}", g.mcast_group6);
    let _ = writeln!(s, " Gratuitous ARP delay = {}", g.garp_delay_secs);
    let _ = writeln!(s, " Gratuitous ARP repeat = {}", g.garp_repeat);
    let _ = writeln!(s, " Gratuitous ARP refresh timer = {}", g.garp_refresh_secs);
    let _ = writeln!(
        s,
        " Gratuitous ARP refresh repeat = {}",
        g.garp_refresh_repeat
    );
    let _ = writeln!(
        s,
        " Gratuitous ARP lower priority delay = {}",
        g.garp_lower_prio_delay_secs
    );
    let _ = writeln!(
        s,
        " Gratuitous ARP lower priority repeat = {}",
        g.garp_lower_prio_repeat
    );
    s.push_str(GLOBAL_ADVERT_LINES);
    let _ = writeln!(
        s,
        " Gratuitous ARP interval = {:.6}",
        g.garp_interval.as_secs_f64()
    );
    let _ = writeln!(
        s,
        " Gratuitous NA interval = {:.6}",
        g.gna_interval.as_secs_f64()
    );
    let _ = writeln!(s, " VRRP default protocol version = {}", g.version);
    s.push_str(" nftables without counters\n libnftnl version 1.2.3\n");
    let _ = writeln!(s, " VRRP check unicast_src = {}", tf(g.check_unicast_src));
    let _ = writeln!(
        s,
        " VRRP skip check advert addresses = {}",
        tf(g.skip_check_adv_addr)
    );
    let _ = writeln!(s, " VRRP strict mode = {}", tf(g.strict));
    s.push_str(GLOBAL_PROCESS_LINES);
    let _ = writeln!(
        s,
        " Script security {}",
        if g.script_security {
            "enabled"
        } else {
            "disabled"
        }
    );
    let _ = writeln!(
        s,
        " Default script uid:gid {}:{}",
        g.script_uid_gid.0, g.script_uid_gid.1
    );
    s.push_str(GLOBAL_BUFFER_LINES);
}

/// keepalived 2.2.7's defaults for what ha-compat does not run or show (SMTP alerts
/// default, checker), measured.
const GLOBAL_SMTP_LINES: &str = " Default smtp_alert = unset
 Default smtp_alert_vrrp = unset
 Default smtp_alert_checker = unset
 Checkers log all failures = false
 No test config before reload
";

const GLOBAL_LVS_LINES: &str = " Default interface = eth0
 Disable local IGMP = no
 LVS flush = false
 LVS flush on stop = disabled
 FIFO write vrrp states on reload = false
 VRRP notify priority changes = false
";

const GLOBAL_ADVERT_LINES: &str = " Num adverts before down = 3
 Gratuitous ARP for each secondary VMAC = 0s
 Send advert after receive lower priority advert = true
 Send advert after receive higher priority advert = false
";

/// Process, SNMP and DBus lines: keepalived 2.2.7's defaults (ha-compat runs none of
/// the keywords that change them).
const GLOBAL_PROCESS_LINES: &str = " Max auto priority = 0
 Min auto priority delay = 1000000 usecs
 VRRP process priority = 0
 VRRP don't swap = false
 VRRP realtime priority = 0
 VRRP realtime limit = 10000
 Checker process priority = 0
 Checker don't swap = false
 Checker realtime priority = 0
 Checker realtime limit = 10000
 BFD process priority = 0
 BFD don't swap = false
 BFD realtime priority = 0
 BFD realtime limit = 10000
 SNMP vrrp disabled
 SNMP checker disabled
 SNMP RFCv2 disabled
 SNMP RFCv3 disabled
 SNMP traps disabled
 SNMP socket = default (unix:/var/agentx/master)
 DBus disabled
 DBus service name = 
";

/// Netlink buffer lines: keepalived 2.2.7's defaults.
const GLOBAL_BUFFER_LINES: &str = " vrrp_netlink_cmd_rcv_bufs = 0
 vrrp_netlink_cmd_rcv_bufs_force = 0
 vrrp_netlink_monitor_rcv_bufs = 0
 vrrp_netlink_monitor_rcv_bufs_force = 0
 process_monitor_rcv_bufs = 0
 process_monitor_rcv_bufs_force = 0
 lvs_netlink_cmd_rcv_bufs = 0
 lvs_netlink_cmd_rcv_bufs_force = 0
 lvs_netlink_monitor_rcv_bufs = 0
 lvs_netlink_monitor_rcv_bufs_force = 0
 rs_init_notifies = 0
 no_checker_emails = 0
 rx_bufs_multiples = 3
 umask = 0177
";

/// keepalived's `Master down timer` in microseconds: three intervals plus the skew
/// (v2: `(256 - priority) / 256` s; v3: of the master's interval).
fn master_down_micros(i: &InstanceDump) -> u128 {
    let int = i.master_adver_int.as_micros();
    let skew_base = if i.version == 2 { 1_000_000 } else { int };
    3 * int + (256 - u128::from(i.effective_priority)) * skew_base / 256
}

fn on_off(b: bool, yes: &str, no: &str) -> String {
    if b { yes } else { no }.to_string()
}

/// keepalived's `/tmp/keepalived.data` (`vrrp_print_data`): the global definitions, the
/// instances, the socket pool, the scripts and the interfaces.
pub fn render_data(snapshot: &Snapshot) -> String {
    let mut s = String::new();
    s.push_str("------< Global definitions >------\n");
    render_global(&mut s, &snapshot.router_id, &snapshot.global);
    s.push_str("------< VRRP Topology >------\n");
    for i in &snapshot.instances {
        render_instance(&mut s, i);
    }
    render_sockpool(&mut s, &snapshot.instances);
    render_sync_groups(&mut s, &snapshot.groups);
    render_scripts(&mut s, &snapshot.scripts);
    s.push_str("------< Interfaces >------\n");
    for i in &snapshot.interfaces {
        render_interface(&mut s, i);
    }
    s
}

/// One instance of the data dump's "VRRP Topology" (`dump_vrrp()`).
fn render_instance(s: &mut String, i: &InstanceDump) {
    let _ = writeln!(s, " VRRP Instance = {}", i.name);
    let _ = writeln!(s, "   VRRP Version = {}", i.version);
    if let Some(g) = &i.sync_group {
        let _ = writeln!(s, "   Sync group = {g}");
    }
    if i.source.is_ipv6() {
        s.push_str("   Using Native IPv6\n");
    }
    let _ = writeln!(s, "   State = {}", i.state.word());
    if i.state == State::Backup {
        // keepalived prints a stale buffer when no master has been heard yet; an
        // empty value here.
        let _ = writeln!(
            s,
            "   Master router = {}",
            i.master_addr.map(|a| a.to_string()).unwrap_or_default()
        );
        let _ = writeln!(s, "   Master priority = {}", i.master_priority);
        if i.version == 3 {
            let _ = writeln!(
                s,
                "   Master advert int = {:.2} sec",
                i.master_adver_int.as_secs_f64()
            );
        }
    }
    // keepalived lists some of its flag bits; others (nopreempt, skip_check_adv_addr)
    // only make the list non-empty (measured).
    if i.multicast_group.is_none() {
        s.push_str("   Flags:\n     Using unicast\n");
    } else if i.nopreempt || i.skip_check_adv_addr {
        s.push_str("   Flags:\n");
    } else {
        s.push_str("   Flags: none\n");
    }
    let _ = writeln!(s, "   Wantstate = {}", i.wantstate.word());
    s.push_str("   Number of config faults = 0\n");
    let _ = writeln!(
        s,
        "   Number of interface and track script faults = {}",
        u8::from(i.state == State::Fault)
    );
    s.push_str("   Number of track scripts init = 0\n");
    let _ = writeln!(s, "   Last transition = {}", i.last_transition.data_form());
    match i.read_timeout {
        Some(t) => {
            let _ = writeln!(s, "   Read timeout = {}", t.data_form());
        }
        None => s.push_str("   Read timeout = DISABLED\n"),
    }
    let _ = writeln!(s, "   Master down timer = {} usecs", master_down_micros(i));
    let _ = writeln!(s, "   Interface = {}", i.interface);
    if i.skip_check_adv_addr {
        s.push_str("   Skip checking advert IP addresses\n");
    }
    let _ = writeln!(
        s,
        "   Using src_ip = {}{}",
        i.source,
        if i.source_configured {
            " (from configuration)"
        } else {
            ""
        }
    );
    if let Some(group) = i.multicast_group {
        let _ = writeln!(s, "   Multicast address {group}");
    }
    let _ = writeln!(s, "   Gratuitous ARP delay = {}", i.garp_delay_secs);
    let _ = writeln!(s, "   Gratuitous ARP repeat = {}", i.garp_repeat);
    let _ = writeln!(s, "   Gratuitous ARP refresh = {}", i.garp_refresh_secs);
    let _ = writeln!(
        s,
        "   Gratuitous ARP refresh repeat = {}",
        i.garp_refresh_repeat
    );
    let _ = writeln!(
        s,
        "   Gratuitous ARP lower priority delay = {}",
        i.garp_lower_prio_delay_secs
    );
    let _ = writeln!(
        s,
        "   Gratuitous ARP lower priority repeat = {}",
        i.garp_lower_prio_repeat
    );
    s.push_str("   Down timer adverts = 3\n");
    s.push_str("   Send advert after receive lower priority advert = true\n");
    s.push_str("   Send advert after receive higher priority advert = false\n");
    let _ = writeln!(s, "   Virtual Router ID = {}", i.vrid);
    let _ = writeln!(s, "   Priority = {}", i.base_priority);
    let _ = writeln!(s, "   Effective priority = {}", i.effective_priority);
    let _ = writeln!(s, "   Total priority = {}", i.effective_priority);
    if i.version == 2 && i.advert_int.subsec_millis() == 0 {
        let _ = writeln!(s, "   Advert interval = {} sec", i.advert_int.as_secs());
    } else {
        let _ = writeln!(
            s,
            "   Advert interval = {} milli-sec",
            i.advert_int.as_millis()
        );
    }
    s.push_str("   Accept = enabled\n");
    let _ = writeln!(
        s,
        "   Preempt = {}",
        on_off(!i.nopreempt, "enabled", "disabled")
    );
    if i.preempt_delay_secs > 0 {
        let _ = writeln!(s, "   Preempt delay = {} secs", i.preempt_delay_secs);
    }
    s.push_str("   Promote_secondaries = disabled\n");
    match &i.auth {
        // keepalived shows authentication for VRRPv2 only.
        DumpAuth::None if i.version != 2 => {}
        DumpAuth::None => s.push_str("   Authentication type = none\n"),
        DumpAuth::Pass(p) => {
            let _ = write!(
                s,
                "   Authentication type = SIMPLE_PASSWORD\n   Password = {p}\n"
            );
        }
        DumpAuth::Ah(p) => {
            let _ = write!(s, "   Authentication type = IPSEC_AH\n   Password = {p}\n");
        }
    }
    let split = i.vips.len().saturating_sub(i.excluded_vips);
    let set = if i.vips_set { " set" } else { "" };
    let _ = writeln!(s, "   Virtual IP ({split}):");
    for v in &i.vips[..split] {
        let _ = writeln!(s, "     {v}{set}");
    }
    if split < i.vips.len() {
        s.push_str("   Virtual IP Excluded :\n");
        for v in &i.vips[split..] {
            let _ = writeln!(s, "     {v}{set}");
        }
    }
    if i.multicast_group.is_none() {
        let _ = write!(
            s,
            "   Unicast TTL = 255\n   Check unicast src : {}\n   Unicast Peer :\n",
            if i.check_unicast_src { "yes" } else { "no" }
        );
        for (peer, min_ttl, max_ttl) in &i.unicast_peers {
            let _ = writeln!(s, "     {peer} min_ttl {min_ttl} max_ttl {max_ttl}");
        }
        s.push_str("   Unicast checksum compatibility = no\n");
    }
    let _ = writeln!(s, "   fd_in {}, fd_out {}", i.fds.0, i.fds.1);
    if !i.tracked_interfaces.is_empty() {
        s.push_str("   Tracked interfaces :\n");
        for (name, weight) in &i.tracked_interfaces {
            let _ = writeln!(s, "     {name} weight {weight}");
        }
    }
    if !i.scripts.is_empty() {
        s.push_str("   Tracked scripts :\n");
        for (name, weight) in &i.scripts {
            let _ = writeln!(s, "     {name} weight {weight}");
        }
    }
    s.push_str("   Using smtp notification = no\n");
    s.push_str("   Notify deleted = Fault\n");
    for (kind, cmd, uid, gid) in &i.notify_lines {
        let _ = writeln!(
            s,
            "   {kind} state transition script = {cmd}, uid:gid {uid}:{gid}"
        );
    }
    s.push_str("   Notify priority changes = false\n");
}

/// "VRRP Sockpool": one entry per socket pair, with the instances sharing it.
fn render_sockpool(s: &mut String, instances: &[InstanceDump]) {
    s.push_str("------< VRRP Sockpool >------\n");
    let mut seen: Vec<(i32, i32)> = Vec::new();
    for i in instances {
        if seen.contains(&i.fds) {
            continue;
        }
        seen.push(i.fds);
        let _ = writeln!(s, " fd_in {} fd_out = {}", i.fds.0, i.fds.1);
        let _ = writeln!(s, "   Interface = {}", i.interface);
        let _ = writeln!(
            s,
            "   Family = {}",
            if i.source.is_ipv4() { "IPv4" } else { "IPv6" }
        );
        let _ = writeln!(
            s,
            "   Protocol = {}",
            if matches!(i.auth, DumpAuth::Ah(_)) {
                "AH"
            } else {
                "VRRP"
            }
        );
        let _ = writeln!(
            s,
            "   Type = {}",
            if i.multicast_group.is_some() {
                "Multicast"
            } else {
                "Unicast"
            }
        );
        if i.multicast_group.is_none() {
            let _ = writeln!(s, "   Address = {}", i.source);
        }
        s.push_str("   Rx buf size = 0\n   VRRP instances\n");
        for other in instances.iter().filter(|o| o.fds == i.fds) {
            let _ = writeln!(s, "     {} vrid {}", other.name, other.vrid);
        }
    }
}

/// "VRRP Sync groups" (no section without groups).
fn render_sync_groups(s: &mut String, groups: &[GroupDump]) {
    if !groups.is_empty() {
        s.push_str("------< VRRP Sync groups >------\n");
    }
    for g in groups {
        let _ = writeln!(s, " VRRP Sync Group = {}, {}", g.name, g.state.word());
        let _ = writeln!(
            s,
            "   Num member fault {}, num member init 0",
            g.members_fault
        );
        s.push_str("   VRRP member instances :\n");
        for m in &g.members {
            let _ = writeln!(s, "     {m}");
        }
        s.push_str("   Using smtp notification = no\n");
    }
}

/// "VRRP Scripts" (no section without scripts, measured).
fn render_scripts(s: &mut String, scripts: &[ScriptDump]) {
    // No section at all without scripts (measured).
    if !scripts.is_empty() {
        s.push_str("------< VRRP Scripts >------\n");
    }
    for sc in scripts {
        let _ = writeln!(s, " VRRP Script = {}", sc.name);
        let _ = writeln!(s, "   Command = {}", quoted_command(&sc.command));
        let _ = writeln!(s, "   Interval = {} sec", sc.interval_secs);
        let _ = writeln!(s, "   Timeout = {} sec", sc.timeout_secs);
        let _ = writeln!(s, "   Weight = {}", sc.weight);
        let _ = writeln!(s, "   Rise = {}", sc.rise);
        let _ = writeln!(s, "   Fall = {}", sc.fall);
        // keepalived's `result`: rise+fall-1 when good, 0 when bad, rise-1 at start.
        let result = match sc.good {
            Some(true) => sc.rise + sc.fall - 1,
            Some(false) => 0,
            None => sc.rise.saturating_sub(1),
        };
        let _ = writeln!(s, "   Result = {result}");
        s.push_str("   Insecure = no\n");
        s.push_str("   Init state = unknown\n");
        let _ = writeln!(
            s,
            "   Status = {}",
            match sc.good {
                Some(true) => "GOOD",
                Some(false) => "BAD",
                None => "INIT",
            }
        );
        s.push_str("   Script uid:gid = 0:0\n");
        s.push_str("   VRRP instances :\n");
        s.push_str("   Tracking instances :\n");
        for (name, weight) in &sc.tracking {
            let _ = writeln!(s, "     {name}, weight {weight}");
        }
        s.push_str("   State = idle\n");
    }
}

/// Writes `text` to `path` as keepalived does: created or truncated, mode 0600.
pub fn write_dump(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::fs::PermissionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // An existing file keeps its mode on open: set it as keepalived's umask 0177 would.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(text.as_bytes())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn fixture(name: &str) -> String {
        let path = format!(
            "{}/../../fixtures/keepalived/dumps/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// The state of the recorded run (`fixtures/keepalived/dumps/REFERENCE.md`): the
    /// variable values (times, descriptors, MACs, counters) are those keepalived had.
    pub(crate) fn recorded() -> Snapshot {
        let ether =
            |name: &str, index, ipv4: Vec<Ipv4Addr>, ll: &str, mac: [u8; 6]| InterfaceDump {
                name: name.into(),
                index,
                ipv4,
                ipv6: vec![ll.parse::<Ipv6Addr>().unwrap()],
                mac: mac.to_vec(),
                broadcast: vec![0xff; 6],
                flags: IFF_UP | IFF_BROADCAST | IFF_RUNNING | IFF_MULTICAST,
                mtu: 1500,
                hw_type: 1,
                garp_interval: Duration::ZERO,
                gna_interval: Duration::ZERO,
                tracking: Vec::new(),
            };
        let mut eth0 = ether(
            "eth0",
            3,
            vec![Ipv4Addr::new(10, 0, 0, 1)],
            "fe80::247d:83ff:feec:4c83",
            [0x26, 0x7d, 0x83, 0xec, 0x4c, 0x83],
        );
        eth0.tracking.push(("VI_1".into(), 0));
        Snapshot {
            groups: Vec::new(),
            router_id: "lb1".into(),
            global: GlobalDump::default(),
            instances: vec![InstanceDump {
                name: "VI_1".into(),
                version: 2,
                state: State::Master,
                wantstate: State::Master,
                last_transition: WallTime {
                    secs: 1_795_378_707,
                    micros: 43_313,
                },
                read_timeout: Some(WallTime {
                    secs: 1_795_378_713,
                    micros: 47_389,
                }),
                interface: "eth0".into(),
                source: "10.0.0.1".parse().unwrap(),
                source_configured: false,
                multicast_group: Some("224.0.0.18".parse().unwrap()),
                unicast_peers: Vec::new(),
                check_unicast_src: false,
                garp_delay_secs: 5,
                garp_repeat: 5,
                garp_refresh_secs: 0,
                garp_refresh_repeat: 1,
                garp_lower_prio_delay_secs: 5,
                garp_lower_prio_repeat: 5,
                vrid: 51,
                base_priority: 150,
                effective_priority: 150,
                master_priority: 0,
                master_addr: None,
                sync_group: None,
                excluded_vips: 0,
                track_interfaces: Vec::new(),
                notify_scripts: Vec::new(),
                notify_lines: Vec::new(),
                tracked_interfaces: Vec::new(),
                advert_int: Duration::from_secs(1),
                master_adver_int: Duration::from_secs(1),
                nopreempt: false,
                preempt_delay_secs: 0,
                skip_check_adv_addr: false,
                auth: DumpAuth::Pass("secret12".into()),
                vips: vec!["10.0.0.100/24 dev eth0 scope global".into()],
                vips_set: true,
                scripts: vec![("chk_true".into(), -20)],
                fds: (13, 14),
                counters: Counters {
                    advert_sent: 6,
                    become_master: 1,
                    ..Counters::default()
                },
            }],
            scripts: vec![ScriptDump {
                name: "chk_true".into(),
                command: vec!["/usr/bin/true".into()],
                interval_secs: 1,
                timeout_secs: 0,
                weight: -20,
                rise: 2,
                fall: 2,
                good: Some(true),
                tracking: vec![("VI_1".into(), -20)],
            }],
            interfaces: vec![
                InterfaceDump {
                    name: "lo".into(),
                    index: 1,
                    ipv4: vec![Ipv4Addr::LOCALHOST],
                    ipv6: Vec::new(),
                    mac: vec![0; 6],
                    broadcast: vec![0; 6],
                    flags: IFF_UP | IFF_LOOPBACK | IFF_RUNNING,
                    mtu: 65536,
                    hw_type: 772,
                    garp_interval: Duration::ZERO,
                    gna_interval: Duration::ZERO,
                    tracking: Vec::new(),
                },
                ether(
                    "peth0",
                    2,
                    Vec::new(),
                    "fe80::3c54:36ff:fef9:540",
                    [0x3e, 0x54, 0x36, 0xf9, 0x05, 0x40],
                ),
                eth0,
            ],
        }
    }

    /// The local-time part of `Last transition` / `Read timeout` depends on the zone the
    /// test runs in: only that is masked.
    fn mask_local_times(text: &str) -> String {
        text.lines()
            .map(|l| {
                if l.starts_with("   Last transition = ") || l.starts_with("   Read timeout = ") {
                    match l.split_once(" (") {
                        Some((front, _)) => format!("{front} (LOCAL)"),
                        None => l.to_string(),
                    }
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn data_matches_keepalived_line_by_line() {
        let ours = mask_local_times(&render_data(&recorded()));
        let theirs = mask_local_times(&fixture("keepalived.data"));
        for (n, (a, b)) in ours.lines().zip(theirs.lines()).enumerate() {
            assert_eq!(a, b, "line {}", n + 1);
        }
        assert_eq!(ours.lines().count(), theirs.lines().count());
    }

    #[test]
    fn data_lists_additional_ipv4_but_only_link_local_ipv6() {
        let mut s = recorded();
        s.interfaces[2].ipv4.push(Ipv4Addr::new(10, 0, 0, 2));
        let ours = render_data(&s);
        let theirs = fixture("more-addresses.data");
        let section = |t: &str| {
            t.lines()
                .skip_while(|l| *l != " Name = eth0")
                .take_while(|l| !l.starts_with("   MAC ="))
                .skip(2)
                .filter(|l| !l.starts_with("   IPv6 address"))
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(section(&ours), section(&theirs));
        assert_eq!(
            section(&theirs),
            [
                "   IPv4 address = 10.0.0.1",
                "   Additional IPv4 addresses :",
                "     10.0.0.2"
            ]
        );
    }

    #[test]
    fn stats_match_keepalived_byte_for_byte() {
        assert_eq!(render_stats(&recorded()), fixture("keepalived.stats"));
    }

    #[test]
    fn json_matches_keepalived_byte_for_byte() {
        assert_eq!(render_json(&recorded()), fixture("keepalived.json"));
        let parsed: serde_json::Value = serde_json::from_str(&render_json(&recorded())).unwrap();
        assert_eq!(parsed[0]["data"]["state"], 2);
    }

    /// `fixtures/keepalived/dumps/backup/`: the recorded BACKUP's values.
    fn recorded_backup() -> Snapshot {
        let mut s = recorded();
        s.scripts.clear();
        let i = &mut s.instances[0];
        i.state = State::Backup;
        i.wantstate = State::Backup;
        i.master_addr = Some("10.0.0.2".parse().unwrap());
        i.master_priority = 200;
        i.last_transition = WallTime {
            secs: 1_795_379_572,
            micros: 869_390,
        };
        i.read_timeout = Some(WallTime {
            secs: 1_795_379_580,
            micros: 726_260,
        });
        i.base_priority = 100;
        i.effective_priority = 100;
        i.vips_set = false;
        i.auth = DumpAuth::None;
        i.scripts.clear();
        i.counters = Counters {
            advert_rcvd: 4,
            ..Counters::default()
        };
        s
    }

    /// The lines from the topology section to the next section after the socket pool.
    fn topology(text: &str) -> Vec<String> {
        text.lines()
            .skip_while(|l| *l != "------< VRRP Topology >------")
            .take_while(|l| *l != "------< Interfaces >------")
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn backup_dumps_match_keepalived() {
        let s = recorded_backup();
        assert_eq!(render_stats(&s), fixture("backup/keepalived.stats"));
        assert_eq!(render_json(&s), fixture("backup/keepalived.json"));
        let ours = topology(&mask_local_times(&render_data(&s)));
        let theirs = topology(&mask_local_times(&fixture("backup/keepalived.data")));
        assert_eq!(ours, theirs);
        // No scripts: no scripts section at all.
        assert!(!theirs.iter().any(|l| l.contains("VRRP Scripts")));
    }

    #[test]
    fn a_backup_that_heard_no_master_shows_an_empty_master_router() {
        let mut s = recorded_backup();
        s.instances[0].master_addr = None;
        assert!(render_data(&s).contains("\n   Master router = \n   Master priority = 200\n"));
    }

    #[test]
    fn global_definitions_follow_global_defs() {
        let g = GlobalDump {
            dynamic_interfaces: true,
            mcast_group4: Ipv4Addr::new(224, 0, 0, 19),
            garp_delay_secs: 2,
            garp_repeat: 3,
            garp_refresh_secs: 60,
            garp_refresh_repeat: 2,
            garp_lower_prio_delay_secs: 4,
            garp_lower_prio_repeat: 1,
            version: 3,
            check_unicast_src: true,
            skip_check_adv_addr: true,
            script_security: true,
            // `nobody` where it was recorded.
            script_uid_gid: (65534, 65534),
            ..GlobalDump::default()
        };
        let mut ours = String::from("------< Global definitions >------\n");
        render_global(&mut ours, "lb4", &g);
        let theirs: String = fixture("globals/keepalived.data")
            .lines()
            .take_while(|l| *l != "------< VRRP Topology >------")
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(ours, theirs);
        let with_intervals = fixture("globals/with-garp-intervals.data");
        assert!(with_intervals.contains("\n Gratuitous ARP interval = 0.010000\n"));
        let g = GlobalDump {
            garp_interval: Duration::from_millis(10),
            ..g
        };
        let mut ours = String::new();
        render_global(&mut ours, "lb4", &g);
        assert!(ours.contains("\n Gratuitous ARP interval = 0.010000\n"));
    }

    #[test]
    fn counters_follow_the_stats_names_of_rejections() {
        let mut c = Counters::default();
        for name in [
            "auth_failure",
            "auth_failure",
            "ip_ttl_err",
            "chk_err",
            "vers_err",
        ] {
            c.count_rejection(name);
        }
        assert_eq!((c.auth_failure, c.ip_ttl_err), (2, 1));
        let text = render_stats(&Snapshot {
            instances: vec![InstanceDump {
                counters: c,
                ..recorded().instances[0].clone()
            }],
            ..Snapshot::default()
        });
        assert!(text.contains("    TTL: 1\n"));
        assert!(text.contains("    Failure: 2\n"));
    }

    #[test]
    fn json_strings_escaped_as_json_c() {
        assert_eq!(json_str("a/b\"c\\\n"), "\"a\\/b\\\"c\\\\\\n\"");
    }

    // keepalived-exporter's text parsers (github.com/mehdy/keepalived-exporter,
    // internal/collector/parser.go: ParseVRRPData, ParseVRRPScript, ParseStats),
    // re-stated in Rust: what they read from each line. Both keepalived's files and ours
    // must give the same readings.

    /// An instance as ParseVRRPData reads it: name, (key, value) pairs, VIPs.
    pub(crate) type ExporterInstance = (String, Vec<(String, String)>, Vec<String>);

    /// ParseVRRPData: instance -> (State, Wantstate, Interface, GARP delay, VRID, VIPs).
    pub(crate) fn exporter_data(text: &str) -> Vec<ExporterInstance> {
        let mut out: Vec<ExporterInstance> = Vec::new();
        let mut in_instance = false;
        let mut key = String::new();
        for l in text.lines() {
            if l.starts_with(" VRRP Instance") && l.contains('=') {
                let name = l.trim().split('=').nth(1).unwrap_or("").trim().to_string();
                out.push((name, Vec::new(), Vec::new()));
                in_instance = true;
            } else if l.starts_with("   ") && in_instance {
                let val;
                if l.starts_with("     ") {
                    val = l.trim().to_string();
                } else {
                    let sep = if l.contains('=') {
                        '='
                    } else if l.contains(':') {
                        ':'
                    } else {
                        continue;
                    };
                    let mut parts = l.trim().split(sep);
                    key = parts.next().unwrap_or("").trim().to_string();
                    if key == "Virtual IP" {
                        continue;
                    }
                    val = parts.next().unwrap_or("").trim().to_string();
                }
                let last = out.last_mut().unwrap();
                if (key.starts_with("Virtual IP (") || key == "Virtual IP") && !val.is_empty() {
                    last.2.push(val.clone());
                }
                if [
                    "State",
                    "Wantstate",
                    "Interface",
                    "Listening device",
                    "Gratuitous ARP delay",
                    "Virtual Router ID",
                ]
                .contains(&key.as_str())
                {
                    last.1.push((key.clone(), val));
                }
            } else if l.starts_with(" VRRP Version") || l.starts_with(" VRRP Script") {
                continue;
            } else {
                in_instance = false;
            }
        }
        out
    }

    /// ParseVRRPScript: (name, Status, State).
    pub(crate) fn exporter_scripts(text: &str) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        let mut cur: Option<(String, String, String)> = None;
        for l in text.lines() {
            if l.starts_with(" VRRP Script") && l.contains('=') {
                out.extend(cur.take());
                let name = l.trim().split('=').nth(1).unwrap_or("").trim().to_string();
                cur = Some((name, String::new(), String::new()));
            } else if l.starts_with("   ") && cur.is_some() {
                let Some((k, v)) = l.trim().split_once('=') else {
                    continue;
                };
                let c = cur.as_mut().unwrap();
                match k.trim() {
                    "Status" => c.1 = v.trim().to_string(),
                    "State" => c.2 = v.trim().to_string(),
                    _ => {}
                }
            } else if !l.starts_with("    ") {
                out.extend(cur.take());
            }
        }
        out.extend(cur);
        out
    }

    /// ParseStats: instance -> (section/key, value); any non-number value is an error.
    pub(crate) fn exporter_stats(text: &str) -> Vec<(String, String, i64)> {
        let mut out = Vec::new();
        let (mut instance, mut section) = (String::new(), String::new());
        for l in text.lines() {
            if l.starts_with("VRRP Instance") && l.contains(':') {
                instance = l.trim().split(':').nth(1).unwrap().trim().to_string();
            } else if l.starts_with("  ") && l.ends_with(':') {
                section = l.trim().split(':').next().unwrap().trim().to_string();
            } else if l.starts_with("    ") && !section.is_empty() {
                let mut p = l.trim().split(':');
                let key = p.next().unwrap().trim();
                let val: i64 = p.next().unwrap().trim().parse().expect("number");
                out.push((instance.clone(), format!("{section}/{key}"), val));
            } else if l.starts_with("  ") {
                let mut p = l.trim().split(':');
                let key = p.next().unwrap().trim();
                let val: i64 = p.next().unwrap().trim().parse().expect("number");
                section.clear();
                out.push((instance.clone(), key.to_string(), val));
            }
        }
        out
    }

    #[test]
    fn keepalived_exporter_reads_the_same_from_ours() {
        let s = recorded();
        let data = exporter_data(&render_data(&s));
        assert_eq!(data, exporter_data(&fixture("keepalived.data")));
        assert_eq!(data[0].0, "VI_1");
        assert_eq!(data[0].2, ["10.0.0.100/24 dev eth0 scope global set"]);
        let scripts = exporter_scripts(&render_data(&s));
        assert_eq!(scripts, exporter_scripts(&fixture("keepalived.data")));
        assert_eq!(scripts, [("chk_true".into(), "GOOD".into(), "idle".into())]);
        let stats = exporter_stats(&render_stats(&s));
        assert_eq!(stats, exporter_stats(&fixture("keepalived.stats")));
        assert_eq!(stats.len(), 14);
    }
}
