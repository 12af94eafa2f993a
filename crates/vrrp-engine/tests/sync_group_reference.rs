//! The sync group lab with the real keepalived 2.2.7: two `keepalived -n -l -D --vrrp` in
//! two network namespaces (`hasg-PID-N-r1`, `-r2`), their `hasg-a` and `hasg-b` on two
//! bridges in a third (`-sw`), addresses only in there (10.99.1.0/24, 10.99.2.0/24), all
//! deleted by a drop guard (also on panic). It checks that the reference still logs and
//! notifies what `tests/common/sync_lab.rs` recorded and `tests/sync_group_sim.rs` expects
//! of ha-compat's engine, and runs that engine beside the real keepalived (a mixed pair).
//!
//! Needs root and `keepalived` (`apt-get install -y keepalived`); skipped with a message
//! otherwise. Each scenario runs for about 30 s.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::sync_lab;

static NEXT: AtomicUsize = AtomicUsize::new(0);

fn keepalived() -> Option<PathBuf> {
    [
        "/usr/sbin/keepalived",
        "/sbin/keepalived",
        "/usr/local/sbin/keepalived",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

/// Whether the lab can run here; prints why not.
fn can_run() -> Option<PathBuf> {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIP sync_group_reference: needs root (network namespaces)");
        return None;
    }
    let k = keepalived();
    if k.is_none() {
        eprintln!(
            "SKIP sync_group_reference: keepalived is not installed (apt-get install -y keepalived)"
        );
    }
    k
}

fn run(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn sleep(s: u64) {
    std::thread::sleep(Duration::from_secs(s));
}

/// The namespaces, the files and the daemons of one lab; all gone on drop.
struct Lab {
    tag: String,
    dir: PathBuf,
    daemons: Vec<(usize, Child)>,
    keepalived: PathBuf,
}

impl Lab {
    fn ns(&self, name: &str) -> String {
        format!("{}-{name}", self.tag)
    }

    fn ip(&self, ns: &str, args: &[&str]) {
        let ns = self.ns(ns);
        let mut all = vec!["ip", "-n", &ns];
        all.extend_from_slice(args);
        run(&all);
    }

    /// Routers 1 and 2 with `(VI_A, VI_B)` priorities.
    fn new(keepalived: PathBuf, prios: [(u8, u8); 2]) -> Lab {
        let tag = format!(
            "hasg-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let dir = std::env::temp_dir().join(&tag);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let lab = Lab {
            tag,
            dir,
            daemons: Vec::new(),
            keepalived,
        };
        for ns in ["r1", "r2", "sw"] {
            run(&["ip", "netns", "add", &lab.ns(ns)]);
        }
        for br in ["br-a", "br-b"] {
            lab.ip("sw", &["link", "add", br, "type", "bridge"]);
            lab.ip("sw", &["link", "set", br, "up"]);
        }
        for r in [1u8, 2] {
            let rns = lab.ns(&format!("r{r}"));
            for (seg, net) in [("a", 1), ("b", 2)] {
                let outer = format!("hasg-r{r}{seg}");
                let inner = format!("hasg-{seg}");
                lab.ip(
                    "sw",
                    &[
                        "link", "add", &outer, "type", "veth", "peer", "name", &inner, "netns",
                        &rns,
                    ],
                );
                lab.ip(
                    "sw",
                    &["link", "set", &outer, "master", &format!("br-{seg}")],
                );
                lab.ip("sw", &["link", "set", &outer, "up"]);
                let rn = format!("r{r}");
                lab.ip(
                    &rn,
                    &["addr", "add", &format!("10.99.{net}.{r}/24"), "dev", &inner],
                );
                lab.ip(&rn, &["link", "set", &inner, "up"]);
            }
            lab.ip(&format!("r{r}"), &["link", "set", "lo", "up"]);
        }
        let notify = lab.dir.join("notify.sh");
        std::fs::write(
            &notify,
            format!(
                "#!/bin/sh\necho \"$*\" >> {}\n",
                lab.dir.join("notify.log").display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&notify, std::fs::Permissions::from_mode(0o755)).unwrap();
        for (r, (a, b)) in [1usize, 2].into_iter().zip(prios) {
            std::fs::write(lab.conf(r), config(r, a, b, &notify)).unwrap();
        }
        lab
    }

    fn conf(&self, r: usize) -> PathBuf {
        self.dir.join(format!("r{r}.conf"))
    }

    fn start(&mut self, r: usize) {
        let d = &self.dir;
        let log = std::fs::File::create(d.join(format!("r{r}.log"))).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns(&format!("r{r}"))])
            .arg(&self.keepalived)
            .args(["-n", "-l", "-D", "--vrrp", "-f"])
            .arg(self.conf(r))
            .arg("-p")
            .arg(d.join(format!("r{r}.pid")))
            .arg("-r")
            .arg(d.join(format!("r{r}.vrrp.pid")))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        self.daemons.push((r, child));
    }

    /// SIGTERM to router `r`'s keepalived, and wait for it.
    fn stop(&mut self, r: usize) {
        if let Some(pos) = self.daemons.iter().position(|(n, _)| *n == r) {
            let (_, mut child) = self.daemons.remove(pos);
            stop_child(&mut child);
        }
    }

    fn link(&self, r: usize, seg: &str, up: bool) {
        self.ip(
            &format!("r{r}"),
            &[
                "link",
                "set",
                &format!("hasg-{seg}"),
                if up { "up" } else { "down" },
            ],
        );
    }

    /// Router `r`'s lines of the instances and the group (without the receive-side
    /// `discarding` lines and the send errors of a link just gone down).
    fn lines(&self, r: usize) -> Vec<String> {
        let text = std::fs::read_to_string(self.dir.join(format!("r{r}.log"))).unwrap();
        text.lines()
            // "Sun Nov 22 03:42:09 2026: " prefix.
            .filter_map(|l| l.get(26..))
            .filter(|l| l.starts_with("(VI_") || l.starts_with("VRRP_Group("))
            .filter(|l| !l.contains("discarding") && !l.contains("send advert error"))
            .map(str::to_owned)
            .collect()
    }

    /// Router `r`'s generic notify arguments, sorted (the scripts run concurrently).
    fn notifies(&self, r: usize) -> Vec<String> {
        let text = std::fs::read_to_string(self.dir.join("notify.log")).unwrap_or_default();
        let prefix = format!("r{r} generic ");
        let mut v: Vec<String> = text
            .lines()
            .filter_map(|l| l.strip_prefix(&prefix))
            .map(str::to_owned)
            .collect();
        v.sort();
        v
    }
}

fn stop_child(child: &mut Child) {
    // `ip netns exec` execs keepalived: the child's pid is keepalived's.
    if let Ok(pid) = i32::try_from(child.id()) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
    for _ in 0..50 {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for Lab {
    fn drop(&mut self) {
        for (_, child) in &mut self.daemons {
            stop_child(child);
        }
        for ns in ["r1", "r2", "sw"] {
            let _ = Command::new("ip")
                .args(["netns", "del", &self.ns(ns)])
                .status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn config(r: usize, prio_a: u8, prio_b: u8, notify: &Path) -> String {
    let n = notify.display();
    let instance = |name: &str, seg: &str, vrid: u8, prio: u8, net: u8| {
        format!(
            "vrrp_instance {name} {{\n  state BACKUP\n  interface hasg-{seg}\n  virtual_router_id {vrid}\n  priority {prio}\n  advert_int 1\n  virtual_ipaddress {{\n    10.99.{net}.100/24\n  }}\n  notify \"{n} r{r} generic\"\n}}\n"
        )
    };
    format!(
        "global_defs {{\n  router_id r{r}\n  enable_script_security\n  script_user root\n  vrrp_garp_master_delay 0\n}}\nvrrp_sync_group G1 {{\n  group {{\n    VI_A\n    VI_B\n  }}\n  notify \"{n} r{r} generic\"\n  notify_master \"{n} r{r} master\"\n}}\n{}{}",
        instance("VI_A", "a", 51, prio_a, 1),
        instance("VI_B", "b", 52, prio_b, 2)
    )
}

fn concat(parts: &[&[&str]]) -> Vec<String> {
    parts
        .iter()
        .flat_map(|p| p.iter().map(|s| (*s).to_owned()))
        .collect()
}

fn sorted(parts: &[&[&str]]) -> Vec<String> {
    let mut v = concat(parts);
    v.sort();
    v
}

/// The master's `hasg-a` fails and comes back: the whole group moves, both ways.
#[test]
fn reference_master_member_fault_and_recovery() {
    let Some(k) = can_run() else { return };
    let mut lab = Lab::new(k, [(200, 200), (100, 100)]);
    lab.start(1);
    sleep(6);
    lab.start(2);
    sleep(6);
    lab.link(1, "a", false);
    sleep(6);
    lab.link(1, "a", true);
    sleep(8);
    lab.stop(2);
    lab.stop(1);
    assert_eq!(
        lab.lines(1),
        concat(&[
            sync_lab::START_ALONE,
            sync_lab::MASTER_FAULT,
            sync_lab::FAULT_RECOVERY,
            sync_lab::PREEMPT_TOGETHER,
            sync_lab::STOP_MASTER,
        ]),
        "r1"
    );
    assert_eq!(
        lab.lines(2),
        concat(&[
            sync_lab::BACKUP_START,
            sync_lab::TAKEOVER_AFTER_FAULT,
            sync_lab::PULLED_TO_BACKUP_FROM_B,
        ]),
        "r2"
    );
    assert_eq!(
        lab.notifies(1),
        sorted(&[
            sync_lab::START_ALONE_NOTIFY,
            sync_lab::MASTER_FAULT_NOTIFY,
            &[
                "INSTANCE VI_A BACKUP 200",
                "INSTANCE VI_B BACKUP 200",
                "GROUP G1 BACKUP 0",
                "INSTANCE VI_A MASTER 200",
                "INSTANCE VI_B MASTER 200",
                "GROUP G1 MASTER 0",
                "INSTANCE VI_A STOP 200",
                "INSTANCE VI_B STOP 200",
                "GROUP G1 STOP 0",
            ],
        ])
    );
}

/// The backup starts with `hasg-a` down, recovers, then loses it again while backup.
#[test]
fn reference_backup_member_fault_at_start_and_later() {
    let Some(k) = can_run() else { return };
    let mut lab = Lab::new(k, [(200, 200), (100, 100)]);
    lab.start(1);
    sleep(5);
    lab.link(2, "a", false);
    sleep(1);
    lab.start(2);
    sleep(4);
    lab.link(2, "a", true);
    sleep(3);
    lab.link(2, "a", false);
    sleep(3);
    lab.link(2, "a", true);
    sleep(3);
    lab.stop(2);
    lab.stop(1);
    assert_eq!(
        lab.lines(2),
        concat(&[
            sync_lab::START_IN_FAULT,
            sync_lab::FAULT_RECOVERY,
            sync_lab::BACKUP_FAULT,
            sync_lab::FAULT_RECOVERY,
        ]),
        "r2"
    );
    let recovery: &[&str] = &[
        "INSTANCE VI_A BACKUP 100",
        "INSTANCE VI_B BACKUP 100",
        "GROUP G1 BACKUP 0",
    ];
    assert_eq!(
        lab.notifies(2),
        sorted(&[
            sync_lab::START_IN_FAULT_NOTIFY,
            recovery,
            sync_lab::BACKUP_FAULT_NOTIFY,
            recovery,
            &[
                "INSTANCE VI_A STOP 100",
                "INSTANCE VI_B STOP 100",
                "GROUP G1 STOP 0"
            ],
        ])
    );
}

/// What ha-compat's runtime tells its notifications, in order.
#[derive(Clone, Default)]
struct Recorded(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl Recorded {
    fn push(&self, line: String) {
        if let Ok(mut v) = self.0.lock() {
            v.push(line);
        }
    }

    fn lines(&self) -> Vec<String> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl vrrp_engine::runtime::Notifications for Recorded {
    fn instance(&mut self, name: &str, state: vrrp_engine::machine::State, priority: u8) {
        self.push(format!("INSTANCE {name} {} {priority}", state.word()));
    }
    fn master_rx_lower_pri(&mut self, _: &str, _: u8) {}
    fn group(&mut self, name: &str, state: vrrp_engine::machine::State) {
        self.push(format!("GROUP {name} {} 0", state.word()));
    }
}

/// ha-compat's engine as router 2 beside the real keepalived as router 1 (a migration done
/// one node at a time): the real master's `hasg-a` fails and comes back; ha-compat's
/// group takes both VIP sets and gives them back with the reference's lines, in
/// keepalived's notification order. The engine runs in this process, on a thread inside
/// router 2's namespace (its sockets belong there).
#[test]
fn mixed_pair_engine_follows_the_reference_group() {
    let Some(k) = can_run() else { return };
    let mut lab = Lab::new(k, [(200, 200), (100, 100)]);
    lab.start(1);
    sleep(6);
    let text = std::fs::read_to_string(lab.conf(2)).unwrap();
    let config = keepalived_conf::parse_str(
        &lab.conf(2),
        &text,
        &keepalived_conf::ReadOptions::default(),
        &keepalived_conf::host::FakeHost::permissive(),
    )
    .config;
    let logger = vrrp_engine::log::Logger::memory();
    let recorded = Recorded::default();
    let netns = format!("/run/netns/{}", lab.ns("r2"));
    let (tx, rx) = std::sync::mpsc::channel();
    let engine = {
        let logger = logger.clone();
        let recorded = recorded.clone();
        std::thread::spawn(move || {
            let fd = std::fs::File::open(&netns).unwrap();
            nix::sched::setns(&fd, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            let platform = vrrp_engine::linux::LinuxPlatform::new().unwrap();
            let mut runtime = vrrp_engine::runtime::Runtime::new(
                platform,
                &config,
                vrrp_engine::plan::PlanOptions { log_detail: true },
                logger,
                Box::new(recorded),
            )
            .unwrap();
            tx.send(runtime.sender()).unwrap();
            runtime.run().unwrap();
        })
    };
    let sender = rx.recv().unwrap();
    sleep(6);
    lab.link(1, "a", false);
    sleep(6);
    lab.link(1, "a", true);
    sleep(8);
    sender.send(vrrp_engine::platform::Input::Stop).unwrap();
    engine.join().unwrap();
    lab.stop(1);
    let ours: Vec<String> = logger
        .lines()
        .into_iter()
        .filter(|l| l.starts_with("(VI_") || l.starts_with("VRRP_Group("))
        .filter(|l| !l.contains("discarding") && !l.contains("send advert error"))
        .collect();
    assert_eq!(
        ours,
        concat(&[
            sync_lab::BACKUP_START,
            sync_lab::TAKEOVER_AFTER_FAULT,
            sync_lab::PULLED_TO_BACKUP_FROM_B,
        ]),
        "ha-compat as r2"
    );
    assert_eq!(
        recorded.lines(),
        concat(&[&[
            "GROUP G1 BACKUP 0",
            "INSTANCE VI_A BACKUP 100",
            "INSTANCE VI_B BACKUP 100",
            "INSTANCE VI_A MASTER 100",
            "INSTANCE VI_B MASTER 100",
            "GROUP G1 MASTER 0",
            "INSTANCE VI_B BACKUP 100",
            "INSTANCE VI_A BACKUP 100",
            "GROUP G1 BACKUP 0",
            "INSTANCE VI_A STOP 100",
            "INSTANCE VI_B STOP 100",
            "GROUP G1 STOP 0",
        ]])
    );
    // The reference saw its peer take over and give back, as with a keepalived peer.
    assert_eq!(
        lab.lines(1),
        concat(&[
            sync_lab::START_ALONE,
            sync_lab::MASTER_FAULT,
            sync_lab::FAULT_RECOVERY,
            sync_lab::PREEMPT_TOGETHER,
            sync_lab::STOP_MASTER,
        ]),
        "keepalived as r1"
    );
}
