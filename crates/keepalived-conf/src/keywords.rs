//! The keyword table: every keyword keepalived 2.2.7 registers, and what ha-compat does
//! with it.
//!
//! `data/keywords.tsv` lists keepalived's keywords (extracted from the 2.2.7 sources:
//! `global_parser.c`, `vrrp_parser.c`, `track_file.c`, `bfd_parser.c`, `check_parser.c`).
//! The support status is decided here, in code, so `docs/compatibility.md` is generated
//! from the same table the parser uses (`ha-compat keywords --markdown`).

/// What ha-compat does with a keyword keepalived knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// Read into the typed model and honoured.
    Supported,
    /// Accepted with a warning that ha-compat ignores it; it changes neither security nor
    /// routing, so running without it is safe.
    Ignored,
    /// Refused: it changes routing, addressing or security and ha-compat does not do it
    /// yet, so running on without it would silently do something else.
    Refused,
    /// LVS / checker / BFD: a whole subsystem ha-compat does not replace; the block is
    /// skipped with one warning (keepalived's VRRP process skips it too).
    OtherSubsystem,
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keyword {
    pub section: &'static str,
    pub name: &'static str,
    pub kind: &'static str,
    pub args: &'static str,
    pub note: &'static str,
}

const TABLE: &str = include_str!("../data/keywords.tsv");

/// Every keyword keepalived 2.2.7 knows, in the table's order.
pub fn all() -> impl Iterator<Item = Keyword> {
    TABLE.lines().skip(1).filter_map(|line| {
        let mut cols = line.split('\t');
        Some(Keyword {
            section: cols.next()?,
            name: cols.next()?,
            kind: cols.next()?,
            args: cols.next().unwrap_or(""),
            note: cols.next().unwrap_or(""),
        })
    })
}

/// Looks a keyword up in a section (`root`, `global_defs`, `vrrp_instance`, ...).
pub fn find(section: &str, name: &str) -> Option<Keyword> {
    let section = canonical_section(section);
    all().find(|k| k.section == section && k.name == name)
}

fn canonical_section(section: &str) -> &str {
    match section {
        "vrrp_track_file" => "track_file",
        other => other,
    }
}

/// Keywords the model reads, by section.
const SUPPORTED: &[(&str, &[&str])] = &[
    (
        "root",
        &[
            "include",
            "includer",
            "includem",
            "includew",
            "includeb",
            "includea",
            "global_defs",
            "vrrp_script",
            "vrrp_track_process",
            "track_file",
            "vrrp_track_file",
            "vrrp_sync_group",
            "vrrp_instance",
        ],
    ),
    (
        "global_defs",
        &[
            "router_id",
            "notification_email",
            "notification_email_from",
            "smtp_server",
            "smtp_helo_name",
            "smtp_connect_timeout",
            "smtp_alert",
            "smtp_alert_vrrp",
            "enable_script_security",
            "script_user",
            "vrrp_garp_master_delay",
            "vrrp_garp_master_repeat",
            "vrrp_garp_master_refresh",
            "vrrp_garp_master_refresh_repeat",
            "vrrp_garp_lower_prio_delay",
            "vrrp_garp_lower_prio_repeat",
            "vrrp_garp_interval",
            "vrrp_gna_interval",
            "vrrp_version",
            "vrrp_strict",
            "vrrp_skip_check_adv_addr",
            "vrrp_check_unicast_src",
            "vrrp_mcast_group4",
            "vrrp_mcast_group6",
            "vrrp_priority",
            "vrrp_no_swap",
            "max_auto_priority",
            "dynamic_interfaces",
            "notify_fifo",
            "notify_fifo_script",
            "vrrp_notify_fifo",
            "vrrp_notify_fifo_script",
        ],
    ),
    (
        "vrrp_instance",
        &[
            "state",
            "interface",
            "virtual_router_id",
            "priority",
            "advert_int",
            "nopreempt",
            "preempt",
            "preempt_delay",
            "unicast_src_ip",
            "unicast_peer",
            "mcast_src_ip",
            "authentication",
            "virtual_ipaddress",
            "virtual_ipaddress_excluded",
            "virtual_routes",
            "track_interface",
            "track_script",
            "track_process",
            "track_file",
            "notify",
            "notify_master",
            "notify_backup",
            "notify_fault",
            "notify_stop",
            "notify_deleted",
            "notify_master_rx_lower_pri",
            "smtp_alert",
            "garp_master_delay",
            "garp_master_repeat",
            "garp_master_refresh",
            "garp_master_refresh_repeat",
            "garp_lower_prio_delay",
            "garp_lower_prio_repeat",
            "version",
            "accept",
            "no_accept",
            "use_vmac",
            "vmac_xmit_base",
            "dont_track_primary",
            "skip_check_adv_addr",
            "strict_mode",
            "lvs_sync_daemon_interface",
        ],
    ),
    ("vrrp_instance.authentication", &["auth_type", "auth_pass"]),
    (
        "vrrp_script",
        &[
            "script",
            "interval",
            "timeout",
            "weight",
            "rise",
            "fall",
            "user",
            "init_fail",
        ],
    ),
    (
        "vrrp_track_process",
        &[
            "process",
            "param_match",
            "weight",
            "quorum",
            "quorum_max",
            "delay",
            "terminate_delay",
            "fork_delay",
            "full_command",
        ],
    ),
    ("track_file", &["file", "weight", "init_file"]),
    (
        "vrrp_sync_group",
        &[
            "group",
            "notify",
            "notify_master",
            "notify_backup",
            "notify_fault",
            "notify_stop",
            "smtp_alert",
            "global_tracking",
            "sync_group_tracking_weight",
            "track_interface",
            "track_script",
            "track_file",
            "track_process",
        ],
    ),
];

/// Keywords that change routing, addressing or security and are not implemented: refusing
/// them is the only honest answer until they are.
const REFUSED: &[(&str, &[&str])] = &[
    (
        "root",
        &[
            "static_ipaddress",
            "static_routes",
            "static_rules",
            "net_namespace",
            "track_group",
        ],
    ),
    (
        "vrrp_instance",
        &[
            "virtual_rules",
            "track_bfd",
            "native_ipv6",
            "unicast_fault_no_peer",
        ],
    ),
    ("global_defs", &["vrrp_iptables", "vrrp_ipsets"]),
];

/// ha-compat's support for a keyword keepalived knows.
pub fn support(section: &str, name: &str) -> Support {
    let section = canonical_section(section);
    let listed = |table: &[(&str, &[&str])]| {
        table
            .iter()
            .any(|(s, names)| *s == section && names.contains(&name))
    };
    if listed(SUPPORTED) {
        return Support::Supported;
    }
    if listed(REFUSED) {
        return Support::Refused;
    }
    match find(section, name).map(|k| k.kind) {
        Some("lvs" | "bfd") => Support::OtherSubsystem,
        _ if section == "bfd_instance" => Support::OtherSubsystem,
        _ => Support::Ignored,
    }
}

/// The rows of `docs/compatibility.md`'s keepalived table, as Markdown.
pub fn compatibility_markdown() -> String {
    let mut out =
        String::from("| section | keyword | keepalived args | ha-compat |\n|---|---|---|---|\n");
    for k in all() {
        let status = match support(k.section, k.name) {
            Support::Supported => "supported",
            Support::Ignored => "accepted, warned: ignored by ha-compat",
            Support::Refused => {
                "**refused** (changes routing/addressing/security; not implemented)"
            }
            Support::OtherSubsystem => "skipped with one warning (LVS/BFD not replaced)",
        };
        let args = k.args.replace('|', "\\|");
        out.push_str(&format!(
            "| {} | `{}` | {} | {} |\n",
            k.section, k.name, args, status
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_supported_keyword_is_a_real_keepalived_keyword() {
        for (section, names) in SUPPORTED.iter().chain(REFUSED) {
            for name in *names {
                assert!(
                    find(section, name).is_some(),
                    "{section}/{name} is not in keepalived 2.2.7's keyword list"
                );
            }
        }
    }

    #[test]
    fn table_knows_the_seed_keywords() {
        for (section, name) in [
            ("vrrp_instance", "unicast_peer"),
            ("global_defs", "smtp_connect_timeout"),
            ("vrrp_script", "weight"),
            ("root", "virtual_server"),
        ] {
            assert!(find(section, name).is_some(), "{section}/{name}");
        }
        assert_eq!(support("root", "virtual_server"), Support::OtherSubsystem);
        assert_eq!(support("vrrp_instance", "virtual_rules"), Support::Refused);
        assert_eq!(support("vrrp_instance", "priority"), Support::Supported);
    }
}
