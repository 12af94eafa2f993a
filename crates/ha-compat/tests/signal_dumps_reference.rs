//! keepalived's signal dumps against the real keepalived 2.2.7: the configuration of
//! `fixtures/keepalived/dumps/keepalived.conf` (one MASTER instance, multicast, PASS, one
//! VIP, one `vrrp_script`) is run by `/usr/sbin/keepalived -n -l -D` and by ha-compat called
//! as `keepalived`, side by side, each in its own network namespace `hadump-PID-N` (a veth
//! pair `eth0`/`peth0`, 10.0.0.1/24; deleted by a drop guard, also on panic) and its own
//! mount namespace with a private tmpfs on `/tmp` (the dumps' fixed paths cannot collide;
//! the files are read through `/proc/PID/root/tmp`). After 6 s each gets SIGUSR1, SIGUSR2
//! and SIGRTMIN+2; `/tmp/keepalived.data`, `.stats` and `.json` must be equal line by line
//! once the values that legitimately differ are masked (times, socket numbers, the veths'
//! MACs and link-local addresses, the adverts-sent counter), have mode 0600, and be
//! overwritten (not appended to) by a second signal.
//!
//! Needs root and keepalived (`apt-get install -y keepalived`); skipped with a message
//! otherwise. Runs for about 12 s.
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

/// One namespace, one daemon, one directory; all gone on drop.
struct Lab {
    ns: String,
    dir: PathBuf,
    daemon: Option<Child>,
}

impl Lab {
    fn new() -> Lab {
        let ns = format!(
            "hadump-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        // Not under /tmp, which the daemons see as their own empty tmpfs.
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(&ns);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
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
        ip(&["link", "set", "lo", "up"]);
        ip(&[
            "link", "add", "eth0", "type", "veth", "peer", "name", "peth0",
        ]);
        ip(&["link", "set", "eth0", "up"]);
        ip(&["link", "set", "peth0", "up"]);
        ip(&["addr", "add", "10.0.0.1/24", "dev", "eth0"]);
        lab
    }

    /// Starts `program` on the fixture's configuration with its own tmpfs on `/tmp`.
    /// `ip netns exec`, `unshare` (without `--fork`) and `sh -c exec` all exec: the
    /// child's pid is the daemon's.
    fn start(&mut self, program: &Path) {
        let log = std::fs::File::create(self.dir.join("daemon.log")).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns])
            .args(["unshare", "-m", "--propagation", "private"])
            .args(["sh", "-c", "mount -t tmpfs tmpfs /tmp && exec \"$@\"", "sh"])
            .arg(program)
            .args(["-n", "-l", "-D", "-f"])
            .arg(fixtures().join("keepalived.conf"))
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("TZ", "UTC")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.daemon = Some(child);
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

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.file(name)).unwrap_or_else(|e| {
            panic!(
                "{name}: {e}; daemon log:\n{}",
                std::fs::read_to_string(self.dir.join("daemon.log")).unwrap_or_default()
            )
        })
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.daemon.take() {
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
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.stop();
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
/// numbers, the veths' random MACs and link-local addresses, and the adverts sent (one
/// more or less depending on when the signal lands).
fn mask(name: &str, text: &str) -> Vec<String> {
    let masked_keys = [
        "   Last transition = ",
        "   Read timeout = ",
        "   IPv6 address = fe80:",
        "   MAC = ",
        "    Sent: ",
    ];
    if name.ends_with(".json") {
        let mut out = String::new();
        for field in text.split(',') {
            let key = field.split(':').next().unwrap_or("");
            if key.ends_with("\"last_transition\"") || key.ends_with("\"advert_sent\"") {
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
            for key in masked_keys {
                if l.starts_with(key) && (key != "    Sent: " || in_adverts) {
                    return format!("{key}MASKED");
                }
            }
            l.to_string()
        })
        .collect()
}

#[test]
fn signal_dumps_match_keepalived() {
    let Some(keepalived) = can_run() else { return };
    let mut reference = Lab::new();
    let mut ha = Lab::new();
    let program = ours(&ha);
    reference.start(&keepalived);
    ha.start(&program);
    sleep_ms(6000);
    for (signal, file) in [
        ("USR1", FILES[0]),
        ("USR2", FILES[1]),
        ("RTMIN+2", FILES[2]),
    ] {
        reference.signal(signal);
        ha.signal(signal);
        sleep_ms(1000);
        let (theirs, mine) = (reference.read(file), ha.read(file));
        assert!(theirs.contains("VI_1"), "{file}: {theirs}");
        let (theirs, mine) = (mask(file, &theirs), mask(file, &mine));
        for (n, (a, b)) in theirs.iter().zip(&mine).enumerate() {
            assert_eq!(a, b, "{file} line {} differs", n + 1);
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
        let once = mask(file, &reference.read(file)).len();
        assert_eq!(mask(file, &ha.read(file)).len(), once, "{file} appended to");
    }
}
