//! The VRRP engine keeps only the capabilities it uses; keepalived 2.2.7 keeps all of
//! root's. Dropped from the process's effective and permitted sets, not from the
//! bounding set: a script keepalived.conf runs as root is exec'd by root and gets root's
//! full set back (the kernel gives uid 0 the bounding set at exec), so `notify_master`
//! scripts that call `systemctl` or `ip` behave as under keepalived. What the engine
//! itself may do is limited to its needs; a bug in it cannot load a module, trace a
//! process, mount or reboot.
//!
//! Capabilities are per thread and inherited by the threads a thread creates: this runs
//! first in the keepalived personality, while the process has one thread.

use caps::{CapSet, Capability};

/// What the VRRP engine uses, and for what.
pub const VRRP_KEEPS: &[(Capability, &str)] = &[
    (
        Capability::CAP_NET_RAW,
        "raw VRRP and AH sockets, gratuitous ARP and unsolicited NA, SO_BINDTODEVICE",
    ),
    (
        Capability::CAP_NET_ADMIN,
        "virtual addresses added and removed through netlink, multicast options",
    ),
    (
        Capability::CAP_SETUID,
        "scripts run as `script_user` or their own user",
    ),
    (
        Capability::CAP_SETGID,
        "scripts run with their user's group and no supplementary groups",
    ),
    (
        Capability::CAP_KILL,
        "scripts that outlive their timeout, run as another user, are killed",
    ),
    (
        Capability::CAP_CHOWN,
        "notify FIFOs given to their script's user",
    ),
    (
        Capability::CAP_FOWNER,
        "notify FIFOs and dumps whose file belongs to another user are replaced",
    ),
    (
        Capability::CAP_DAC_OVERRIDE,
        "configuration, include and track files root may read whatever their mode",
    ),
    (
        Capability::CAP_DAC_READ_SEARCH,
        "the same, through directories without search permission",
    ),
];

/// Reduces this thread's effective and permitted sets to [`VRRP_KEEPS`] (those of them
/// it has: run without root, nothing changes). Returns what was dropped, by name.
pub fn keep_only_vrrp() -> Result<Vec<String>, caps::errors::CapsError> {
    let permitted = caps::read(None, CapSet::Permitted)?;
    let kept: caps::CapsHashSet = VRRP_KEEPS
        .iter()
        .map(|(cap, _)| *cap)
        .filter(|cap| permitted.contains(cap))
        .collect();
    let mut dropped: Vec<String> = permitted
        .difference(&kept)
        .map(|cap| cap.to_string())
        .collect();
    dropped.sort();
    if dropped.is_empty() {
        return Ok(dropped);
    }
    // Effective first: it must stay a subset of permitted at every step.
    caps::set(None, CapSet::Effective, &kept)?;
    caps::set(None, CapSet::Permitted, &kept)?;
    Ok(dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engine_keeps_no_capability_that_reaches_beyond_networking_and_its_scripts() {
        let kept: Vec<Capability> = VRRP_KEEPS.iter().map(|(c, _)| *c).collect();
        for dangerous in [
            Capability::CAP_SYS_ADMIN,
            Capability::CAP_SYS_MODULE,
            Capability::CAP_SYS_PTRACE,
            Capability::CAP_SYS_RAWIO,
            Capability::CAP_SYS_BOOT,
            Capability::CAP_SETPCAP,
            Capability::CAP_SETFCAP,
            Capability::CAP_MKNOD,
            Capability::CAP_BPF,
        ] {
            assert!(!kept.contains(&dangerous), "{dangerous}");
        }
        assert!(kept.contains(&Capability::CAP_NET_RAW));
        assert!(kept.contains(&Capability::CAP_NET_ADMIN));
    }
}
