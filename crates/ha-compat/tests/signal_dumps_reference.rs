//! keepalived's signal dumps against the real keepalived 2.2.7: each configuration of
//! `fixtures/keepalived/dumps/` (`keepalived.conf`: one MASTER instance, multicast, PASS,
//! one VIP, one `vrrp_script`; `unicast-fault/`: a unicast instance in FAULT and a
//! multicast one; `backup/`: a BACKUP hearing a real keepalived MASTER; `sync-group/`: a
//! sync group, `track_interface`, notify scripts, an excluded VIP; `globals/`: global
//! definitions and a VRRPv3 instance) is run by `/usr/sbin/keepalived -n -l -D` and by ha-compat called
//! as `keepalived`, side by side, each in its own network namespace `hadump-PID-N` (a veth
//! pair `eth0`/`peth0`, 10.0.0.1/24; deleted by a drop guard, also on panic) and its own
//! mount namespace with a private tmpfs on `/tmp` (the dumps' fixed paths cannot collide;
//! the files are read through `/proc/PID/root/tmp`; `/run` too, for the pid files). The
//! `backup` scenario links the namespace to a second one where a real keepalived is
//! MASTER. After 8 s each daemon under test gets SIGUSR1, SIGUSR2 and SIGRTMIN+2; `/tmp/keepalived.data`, `.stats` and `.json` must be equal line by line
//! once the values that legitimately differ are masked (times, socket numbers, the veths'
//! MACs and link-local addresses, the adverts sent and received), have mode 0600, and be
//! overwritten (not appended to) by a second signal.
//!
//! Needs root and keepalived (`apt-get install -y keepalived`); skipped with a message
//! otherwise. Each scenario runs for about 12 s.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

static NEXT: AtomicUsize = AtomicUsize::new(0);

const FILES: [&str; 3] = ["keepalived.data", "keepalived.stats", "keepalived.json"];

fn can_run() -> Option<PathBuf> {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIP signal_dumps_reference: needs root (network namespaces)");
        return None;
    }
    let k = PathBuf::from("/usr/sbin/keepalived");
    if !k.exists() {
        eprintln!("SKIP signal_dumps_reference: keepalived is not installed");
        return None;
    }
    Some(k)
}

fn run(args: &[&str]) {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/keepalived/dumps")
}

/// One namespace, one daemon, one directory (and, for a BACKUP, a second namespace with a
/// real keepalived master); all gone on drop.
struct Lab {
    ns: String,
    dir: PathBuf,
    daemon: Option<Child>,
    /// The master's namespace (`NS-m`, holding the veth's other end) and daemon.
    master: Option<(String, Option<Child>)>,
}

impl Lab {
    /// `eth0` (10.0.0.1/24) and its veth peer `peth0`, both in the namespace.
    fn new() -> Lab {
        Lab::build(None)
    }

    /// `eth0` (10.0.0.1/24) whose veth peer is `eth0` (10.0.0.2/24) of a second namespace
    /// where the real keepalived runs `master_conf`.
    fn with_master(keepalived: &Path, master_conf: &Path) -> Lab {
        Lab::build(Some((keepalived, master_conf)))
    }

    fn build(master: Option<(&Path, &Path)>) -> Lab {
        let ns = format!(
            "hadump-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        // Not under /tmp, which the daemons see as their own empty tmpfs.
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(&ns);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut lab = Lab {
            ns,
            dir,
            daemon: None,
            master: None,
        };
        run(&["ip", "netns", "add", &lab.ns]);
        let ns = lab.ns.clone();
        ip(&ns, &["link", "set", "lo", "up"]);
        match master {
            None => {
                ip(
                    &ns,
                    &[
                        "link", "add", "eth0", "type", "veth", "peer", "name", "peth0",
                    ],
                );
                ip(&ns, &["link", "set", "peth0", "up"]);
            }
            Some((keepalived, conf)) => {
                let mns = format!("{ns}-m");
                run(&["ip", "netns", "add", &mns]);
                // Known to the drop guard before anything else can fail.
                lab.master = Some((mns.clone(), None));
                ip(&mns, &["link", "set", "lo", "up"]);
                let peer = ["peer", "name", "eth0", "netns", &mns];
                let mut add = vec!["link", "add", "eth0", "type", "veth"];
                add.extend_from_slice(&peer);
                ip(&ns, &add);
                ip(&mns, &["link", "set", "eth0", "up"]);
                ip(&mns, &["addr", "add", "10.0.0.2/24", "dev", "eth0"]);
                let child = isolated(&mns, keepalived, conf, &lab.dir.join("master.log"));
                lab.master = Some((mns, Some(child)));
            }
        }
        ip(&ns, &["link", "set", "eth0", "up"]);
        ip(&ns, &["addr", "add", "10.0.0.1/24", "dev", "eth0"]);
        lab
    }

    fn start(&mut self, program: &Path, conf: &Path) {
        let log = self.dir.join("daemon.log");
        self.daemon = Some(isolated(&self.ns, program, conf, &log));
    }

    fn pid(&self) -> u32 {
        self.daemon.as_ref().unwrap().id()
    }

    /// `kill -s NAME` (bash's, which knows `RTMIN+2` as keepalived's SIGJSON).
    fn signal(&self, name: &str) {
        run(&["bash", "-c", &format!("kill -s {name} {}", self.pid())]);
    }

    /// A dump as the daemon's mount namespace has it.
    fn file(&self, name: &str) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root/tmp/{name}", self.pid()))
    }

    /// Waits up to 5 s for the file (a loaded machine may be slow to start the daemon).
    fn read(&self, name: &str) -> String {
        for _ in 0..50 {
            if self.file(name).exists() {
                break;
            }
            sleep_ms(100);
        }
        std::fs::read_to_string(self.file(name)).unwrap_or_else(|e| {
            panic!(
                "{name}: {e}; daemon log:\n{}",
                std::fs::read_to_string(self.dir.join("daemon.log")).unwrap_or_default()
            )
        })
    }
}

fn ip(ns: &str, args: &[&str]) {
    let mut all = vec!["ip", "-n", ns];
    all.extend_from_slice(args);
    run(&all);
}

/// `program -n -l -D -f conf` in namespace `ns`, with its own tmpfs on `/tmp` and `/run`
/// (dumps and pid files cannot collide with another daemon's). `ip netns exec`, `unshare`
/// (without `--fork`) and `sh -c exec` all exec: the child's pid is the daemon's.
///
/// The program and the configuration are opened before the mounts and copied into the
/// private `/run`: a checkout under `/tmp` (CI clones there) would be hidden by the new
/// `/tmp`. Both daemons run from the same staged paths, so their dumps stay comparable.
fn isolated(ns: &str, program: &Path, conf: &Path, log: &Path) -> Child {
    let log = std::fs::File::create(log).unwrap();
    let script = "exec 3<\"$1\" 4<\"$2\" && \
        mount -t tmpfs tmpfs /tmp && mount -t tmpfs tmpfs /run && mkdir /run/hadump && \
        cat <&3 >/run/hadump/keepalived && chmod 755 /run/hadump/keepalived && \
        cat <&4 >/run/hadump/keepalived.conf && exec 3<&- 4<&- && \
        exec /run/hadump/keepalived -n -l -D -f /run/hadump/keepalived.conf";
    Command::new("ip")
        .args(["netns", "exec", ns])
        .args(["unshare", "-m", "--propagation", "private"])
        .args(["sh", "-c", script, "sh"])
        .arg(program)
        .arg(conf)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("TZ", "UTC")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap()
}

fn stop_child(mut child: Child) {
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
        sleep_ms(100);
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some(child) = self.daemon.take() {
            stop_child(child);
        }
        if let Some((mns, child)) = self.master.take() {
            if let Some(child) = child {
                stop_child(child);
            }
            let _ = Command::new("ip").args(["netns", "del", &mns]).status();
        }
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// ha-compat, reached as `keepalived` (the name selects its keepalived personality).
fn ours(lab: &Lab) -> PathBuf {
    let link = lab.dir.join("keepalived");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_ha-compat"), &link).unwrap();
    link
}

/// The dumps' values that differ between two runs whatever the program: times, socket
/// numbers, the veths' random MACs and link-local addresses, and the adverts sent and
/// received (compared apart, within one: see `compare`; the other counters are compared
/// as they are).
fn mask(name: &str, text: &str, known: &[&str]) -> Vec<String> {
    let mut masked_keys = vec![
        "   Last transition = ",
        "   Read timeout = ",
        "   IPv6 address = fe80:",
        "   MAC = ",
        "    Sent: ",
        "    Received: ",
    ];
    masked_keys.extend_from_slice(known);
    if name.ends_with(".json") {
        let mut out = String::new();
        for field in text.split(',') {
            let key = field.split(':').next().unwrap_or("");
            if known
                .iter()
                .any(|k| key == format!("\"{}\"", k.trim_end_matches(':')))
                || key.ends_with("\"last_transition\"")
                || key.ends_with("\"advert_sent\"")
                || key.ends_with("\"advert_rcvd\"")
            {
                out.push_str(key);
                out.push_str(":MASKED");
            } else {
                out.push_str(field);
            }
            out.push(',');
        }
        out.pop();
        return out.split(',').map(str::to_string).collect();
    }
    let mut in_adverts = false;
    text.lines()
        .map(|l| {
            if l == "  Advertisements:" {
                in_adverts = true;
            } else if !l.starts_with("    ") {
                in_adverts = false;
            }
            if l.contains("fd_in") {
                // Each number (of any width) becomes one `#`.
                let mut out = String::new();
                for c in l.chars() {
                    if !c.is_ascii_digit() {
                        out.push(c);
                    } else if !out.ends_with('#') {
                        out.push('#');
                    }
                }
                return out;
            }
            for key in masked_keys.iter().copied() {
                if l.starts_with(key) && (!key.ends_with(": ") || in_adverts) {
                    return format!("{key}MASKED");
                }
            }
            l.to_string()
        })
        .collect()
}

/// Runs `conf` (a fixture) with both daemons and compares their dumps; with `master`
/// (a fixture too), each daemon hears its own real keepalived running it.
/// The adverts sent and received per instance, from the stats file (in its order).
fn advert_counts(stats: &str) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut lines = stats.lines();
    while let Some(l) = lines.next() {
        if l == "  Advertisements:" {
            let mut num = || -> u64 {
                let line = lines.next().unwrap();
                line.rsplit(' ').next().unwrap().parse().unwrap()
            };
            let received = num();
            let sent = num();
            out.push((received, sent));
        }
    }
    out
}

/// `known`: the keys of lines (and JSON fields) masked besides, for a documented engine
/// difference. `advert_slack`: how far the adverts sent and received may differ (the
/// signal lands at a slightly different moment in each daemon); `None` when a documented
/// engine difference changes them.
fn compare(conf: &str, master: Option<&str>, known: &[&str], advert_slack: Option<u64>) {
    let Some(keepalived) = can_run() else { return };
    let conf = fixtures().join(conf);
    let lab = || match master {
        Some(m) => Lab::with_master(&keepalived, &fixtures().join(m)),
        None => Lab::new(),
    };
    let mut reference = lab();
    let mut ha = lab();
    if master.is_some() {
        // The masters first, as when recording.
        sleep_ms(2000);
    }
    let program = ours(&ha);
    reference.start(&keepalived, &conf);
    ha.start(&program, &conf);
    // Long enough for `unicast-fault`'s VI_3 (advert_int 2: master down after 6.6 s) to
    // be MASTER on both sides.
    sleep_ms(8000);
    for (signal, file) in [
        ("USR1", FILES[0]),
        ("USR2", FILES[1]),
        ("RTMIN+2", FILES[2]),
    ] {
        reference.signal(signal);
        ha.signal(signal);
        sleep_ms(1000);
        let (theirs, mine) = (reference.read(file), ha.read(file));
        assert!(theirs.contains("VI_"), "{file}: {theirs}");
        if let (Some(slack), true) = (advert_slack, file.ends_with(".stats")) {
            let (a, b) = (advert_counts(&theirs), advert_counts(&mine));
            assert_eq!(a.len(), b.len());
            for ((r1, s1), (r2, s2)) in a.iter().zip(&b) {
                assert!(
                    r1.abs_diff(*r2) <= slack && s1.abs_diff(*s2) <= slack,
                    "adverts received/sent: keepalived {a:?}, ours {b:?}"
                );
            }
        }
        let (theirs, mine) = (mask(file, &theirs, known), mask(file, &mine, known));
        for (n, (a, b)) in theirs.iter().zip(&mine).enumerate() {
            assert_eq!(
                a,
                b,
                "{file} line {} differs:\n{}",
                n + 1,
                theirs.join("\n")
            );
        }
        assert_eq!(theirs.len(), mine.len(), "{file}: line counts");
        for lab in [&reference, &ha] {
            let mode = std::fs::metadata(lab.file(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{file} mode");
        }
    }
    // A second round overwrites: the same number of lines, not twice as many.
    for signal in ["USR1", "USR2", "RTMIN+2"] {
        ha.signal(signal);
    }
    sleep_ms(1000);
    for file in FILES {
        let once = mask(file, &reference.read(file), known).len();
        assert_eq!(
            mask(file, &ha.read(file), known).len(),
            once,
            "{file} appended to"
        );
    }
}

/// One MASTER instance, multicast, PASS, one VIP, one tracked script.
#[test]
fn signal_dumps_match_keepalived_master() {
    compare("keepalived.conf", None, &[], Some(1));
}

/// A unicast instance in FAULT (failing weight-0 script, /32 VIP with a label) and a
/// multicast one raised by a script's weight.
#[test]
fn signal_dumps_match_keepalived_unicast_fault() {
    compare("unicast-fault/keepalived.conf", None, &[], Some(1));
}

/// A BACKUP hearing a real keepalived MASTER (priority 200) through a veth pair.
#[test]
fn signal_dumps_match_keepalived_backup() {
    compare(
        "backup/keepalived.conf",
        Some("backup/master.conf"),
        &[],
        Some(1),
    );
}

/// `global_defs` values the data dump shows (script security and user, GARP timers,
/// VRRPv3, address checks, multicast group, dynamic interfaces) and a v3 instance.
#[test]
fn signal_dumps_match_keepalived_globals() {
    compare("globals/keepalived.conf", None, &[], Some(1));
}

/// A sync group, `track_interface`, notify scripts, an excluded VIP. Masked besides: the
/// priorities and what follows from them, an engine difference (docs/compatibility.md:
/// keepalived 2.2.7 applies the sync group member's `track_interface` weight that its own
/// dump shows as 0, 125 here; ha-compat keeps 120).
#[test]
fn signal_dumps_match_keepalived_sync_group() {
    compare(
        "sync-group/keepalived.conf",
        None,
        &[
            "   Effective priority = ",
            "   Total priority = ",
            "   Master down timer = ",
            "     VI_4, weight ",
            "effective_priority:",
        ],
        // It also becomes MASTER earlier, so it has sent more adverts.
        None,
    );
}
