//! What the VRRP process may do, against the real keepalived 2.2.7: the same
//! configuration is run by `/usr/sbin/keepalived -n -l -D` and by ha-compat called as
//! `keepalived`, each alone in a network namespace `hacaps-PID-N` (a veth pair,
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
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const KEEPALIVED: &str = "/usr/sbin/keepalived";

const SCRIPT: &str = "#!/bin/sh\n\
grep -E '^Cap(Eff|Prm)' /proc/self/status > \"$(dirname \"$0\")/out/$1.caps\"\n\
exit 0\n";

fn run(args: &[&str]) {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A namespace and a directory, both removed on drop; the daemon killed.
struct Lab {
    ns: String,
    dir: PathBuf,
    daemon: Option<Child>,
}

impl Lab {
    fn new(n: usize) -> Lab {
        let ns = format!("hacaps-{}-{n}", std::process::id());
        let dir = std::env::temp_dir().join(&ns);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("out")).unwrap();
        // Script security: the script's directories are not writable by others; the
        // output directory is, for the `nobody` script.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(dir.join("out"), std::fs::Permissions::from_mode(0o777)).unwrap();
        let script = dir.join("caps.sh");
        std::fs::write(&script, SCRIPT).unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let lab = Lab {
            ns,
            dir,
            daemon: None,
        };
        run(&["ip", "netns", "add", &lab.ns]);
        let ip = |args: &[&str]| {
            let mut all = vec!["ip", "-n", &lab.ns];
            all.extend_from_slice(args);
            run(&all);
        };
        ip(&[
            "link", "add", "hacaps0", "type", "veth", "peer", "name", "hacaps1",
        ]);
        ip(&["link", "set", "lo", "up"]);
        ip(&["link", "set", "hacaps0", "up"]);
        ip(&["link", "set", "hacaps1", "up"]);
        ip(&["addr", "add", "10.97.0.1/24", "dev", "hacaps0"]);
        lab
    }

    fn config(&self) -> String {
        let script = self.dir.join("caps.sh").display().to_string();
        format!(
            "global_defs {{\n  router_id caps\n  enable_script_security\n  script_user root\n}}\n\
             vrrp_script chk {{\n  script \"{script} track\"\n  interval 1\n  user nobody\n}}\n\
             vrrp_instance VI_1 {{\n  state BACKUP\n  interface hacaps0\n  virtual_router_id 52\n  \
             priority 100\n  advert_int 1\n  track_script {{\n    chk\n  }}\n  \
             notify_master \"{script} master\"\n  virtual_ipaddress {{\n    10.97.0.100/24\n  }}\n}}\n"
        )
    }

    fn start(&mut self, program: &Path) {
        let conf = self.dir.join("keepalived.conf");
        std::fs::write(&conf, self.config()).unwrap();
        let log = std::fs::File::create(self.dir.join("daemon.log")).unwrap();
        self.daemon = Some(
            Command::new("ip")
                .args(["netns", "exec", &self.ns])
                .arg(program)
                .args(["-n", "-l", "-D", "-f"])
                .arg(&conf)
                .arg("-p")
                .arg(self.dir.join("k.pid"))
                .arg("-r")
                .arg(self.dir.join("v.pid"))
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .stdin(Stdio::null())
                .spawn()
                .unwrap(),
        );
    }

    fn vip_present(&self) -> bool {
        let out = Command::new("ip")
            .args(["-n", &self.ns, "-4", "addr", "show", "dev", "hacaps0"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).contains("10.97.0.100/24")
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.daemon.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap()),
                nix::sys::signal::Signal::SIGTERM,
            );
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.stop();
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
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

fn play(lab: &mut Lab, program: &Path) -> Observed {
    lab.start(program);
    let deadline = Instant::now() + Duration::from_secs(15);
    let out = lab.dir.join("out");
    while Instant::now() < deadline
        && !(lab.vip_present()
            && out.join("master.caps").exists()
            && out.join("track.caps").exists())
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    let became_master_with_vip = lab.vip_present();
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
    let vip_removed_at_stop = !lab.vip_present();
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
    if !nix::unistd::geteuid().is_root() || !Path::new(KEEPALIVED).exists() {
        eprintln!("SKIP capabilities_reference: needs root and {KEEPALIVED}");
        return;
    }
    let mut lab = Lab::new(0);
    let reference = play(&mut lab, Path::new(KEEPALIVED));
    let link = lab.dir.join("keepalived");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_ha-compat"), &link).unwrap();
    let ours = play(&mut lab, &link);

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
