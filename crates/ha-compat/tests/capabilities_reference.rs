//! What the VRRP process may do, against the real keepalived 2.2.7: the same
//! configuration is run by `/usr/sbin/keepalived -n -l -D` and by ha-compat called as
//! `keepalived`, one after the other in a network namespace `hacaps-PID` (a veth pair,
//! 10.97.0.1/24, deleted by a drop guard). The instance becomes MASTER (its VIP must
//! appear: the engine could still do its job); a `notify_master` script run as root and a
//! `track_script` run as `nobody` write their own capability sets.
//!
//! What must match: the scripts' sets (root's full set for the root script, none for
//! `nobody`): dropping capabilities in the engine must not change what scripts can do.
//! What differs on purpose: keepalived's VRRP process keeps all of root's capabilities;
//! ours keeps exactly `ha_compat::capabilities::VRRP_KEEPS`.
//!
//! Needs root and keepalived (`apt-get install -y keepalived`); skipped otherwise.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

mod common;

use common::keepalived_lab::{can_run, KeepalivedLab};

const SCRIPT: &str = "#!/bin/sh\n\
grep -E '^Cap(Eff|Prm)' /proc/self/status > \"$(dirname \"$0\")/out/$1.caps\"\n\
exit 0\n";

/// The lab: a veth pair `hacaps0`/`hacaps1` (10.97.0.1/24), the script, and an output
/// directory any user may write (for the `nobody` script).
fn lab() -> KeepalivedLab {
    let lab = KeepalivedLab::new(format!("hacaps-{}", std::process::id()));
    let out = lab.dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o777)).unwrap();
    lab.script("caps.sh", SCRIPT);
    lab.veth("hacaps0", "hacaps1");
    for dev in ["hacaps0", "hacaps1"] {
        lab.ip(&["link", "set", dev, "up"]);
    }
    lab.ip(&["addr", "add", "10.97.0.1/24", "dev", "hacaps0"]);
    lab
}

fn config(lab: &KeepalivedLab) -> String {
    let script = lab.path("caps.sh");
    format!(
        "global_defs {{\n  router_id caps\n  enable_script_security\n  script_user root\n}}\n\
         vrrp_script chk {{\n  script \"{script} track\"\n  interval 1\n  user nobody\n}}\n\
         vrrp_instance VI_1 {{\n  state BACKUP\n  interface hacaps0\n  virtual_router_id 52\n  \
         priority 100\n  advert_int 1\n  track_script {{\n    chk\n  }}\n  \
         notify_master \"{script} master\"\n  virtual_ipaddress {{\n    10.97.0.100/24\n  }}\n}}\n"
    )
}

fn vip_present(lab: &KeepalivedLab) -> bool {
    let out = Command::new("ip")
        .args(["-n", &lab.ns, "-4", "addr", "show", "dev", "hacaps0"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).contains("10.97.0.100/24")
}

/// `CapEff` and `CapPrm` of a `/proc/PID/status`-style text, as numbers.
fn sets(status: &str) -> (u64, u64) {
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
            .unwrap_or_else(|| panic!("no {name} in {status:?}"))
    };
    (field("CapEff:"), field("CapPrm:"))
}

#[derive(Debug)]
struct Observed {
    /// The VRRP process's (effective, permitted) while MASTER.
    engine: (u64, u64),
    /// The notify_master script's, run as root.
    root_script: (u64, u64),
    /// The track script's, run as `nobody`.
    nobody_script: (u64, u64),
    became_master_with_vip: bool,
    vip_removed_at_stop: bool,
}

fn play(lab: &mut KeepalivedLab, program: &Path) -> Observed {
    let conf = config(lab);
    lab.start(program, &conf, &[]);
    let deadline = Instant::now() + Duration::from_secs(15);
    let out = lab.dir.join("out");
    while Instant::now() < deadline
        && !(vip_present(lab)
            && out.join("master.caps").exists()
            && out.join("track.caps").exists())
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    let became_master_with_vip = vip_present(lab);
    let vrrp_pid = std::fs::read_to_string(lab.dir.join("v.pid")).unwrap();
    let engine =
        sets(&std::fs::read_to_string(format!("/proc/{}/status", vrrp_pid.trim())).unwrap());
    let read = |name: &str| {
        sets(
            &std::fs::read_to_string(out.join(name)).unwrap_or_else(|e| {
                panic!(
                    "{name}: {e}\n{}",
                    std::fs::read_to_string(lab.dir.join("daemon.log")).unwrap_or_default()
                )
            }),
        )
    };
    let observed = Observed {
        engine,
        root_script: read("master.caps"),
        nobody_script: read("track.caps"),
        became_master_with_vip,
        vip_removed_at_stop: false,
    };
    lab.stop();
    let vip_removed_at_stop = !vip_present(lab);
    for name in ["master.caps", "track.caps"] {
        let _ = std::fs::remove_file(out.join(name));
    }
    Observed {
        vip_removed_at_stop,
        ..observed
    }
}

#[test]
fn the_vrrp_engine_keeps_only_what_it_needs_and_scripts_keep_what_keepalived_gives_them() {
    let Some(keepalived) = can_run("capabilities_reference") else {
        return;
    };
    let mut lab = lab();
    let reference = play(&mut lab, &keepalived);
    let ours = lab.ours();
    let ours = play(&mut lab, &ours);

    // The reference ran as planned: MASTER, and keepalived's VRRP process as root.
    assert!(reference.became_master_with_vip, "{reference:x?}");
    let root = reference.root_script;
    assert_eq!(
        reference.engine, root,
        "keepalived keeps root's set: {reference:x?}"
    );
    assert_eq!(reference.nobody_script, (0, 0), "{reference:x?}");

    // Scripts: the same sets as under keepalived.
    assert_eq!(ours.root_script, reference.root_script, "{ours:x?}");
    assert_eq!(ours.nobody_script, reference.nobody_script, "{ours:x?}");
    // The engine: exactly what it says it keeps, and it still did its job with it.
    let kept: u64 = ha_compat::capabilities::VRRP_KEEPS
        .iter()
        .map(|(cap, _)| 1u64 << cap.index())
        .sum();
    assert_eq!(ours.engine, (kept, kept), "{ours:x?}");
    assert!(ours.became_master_with_vip, "{ours:x?}");
    assert!(ours.vip_removed_at_stop, "{ours:x?}");
    assert!(reference.vip_removed_at_stop, "{reference:x?}");
}
