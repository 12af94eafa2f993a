//! `keepalived --dont-fork` talking to systemd (`$NOTIFY_SOCKET`), against the real
//! keepalived 2.2.7 (Debian's is built with systemd support: `SYSTEMD_NOTIFY` in
//! `keepalived -v`, libsystemd linked). keepalived notifies only when its parent is pid 1
//! and pid 1 is `systemd` (`check_parent_systemd()`), so each daemon runs in a PID
//! namespace of its own under a copy of `dash` named `systemd` as pid 1 (its `comm`,
//! which `/proc/1/stat` shows, comes from the file name), with a private `/proc` and
//! `/run`. The test binds the `AF_UNIX` datagram socket it names in `$NOTIFY_SOCKET` and
//! records what arrives through start, SIGHUP and SIGTERM: the two must send the same
//! datagrams, byte for byte, with `MAINPID` the daemon's pid in its namespace. Run the
//! same way but without the `systemd` parent, neither sends anything.
//!
//! Needs root and keepalived (`apt-get install -y keepalived`); skipped with a message
//! otherwise. About 20 s.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{sleep_ms, Daemon, Ns};

const CONF: &str = "vrrp_instance VI_1 {\n    state MASTER\n    interface veth0\n    \
    virtual_router_id 51\n    priority 150\n    advert_int 1\n    virtual_ipaddress {\n        \
    10.99.0.100/24\n    }\n}\n";

fn can_run() -> bool {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIP sd_notify_reference: needs root (namespaces)");
        return false;
    }
    if !Path::new("/usr/sbin/keepalived").exists() {
        eprintln!("SKIP sd_notify_reference: keepalived is not installed");
        return false;
    }
    true
}

/// The pids whose parent is `parent`, with their `comm`.
fn children(parent: u32) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((head, tail)) = stat.rsplit_once(')') else {
            continue;
        };
        let comm = head.split_once('(').map(|x| x.1).unwrap_or("").to_owned();
        let ppid: u32 = tail
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        if ppid == parent {
            out.push((pid, comm));
        }
    }
    out
}

fn wait_for<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(v) = f() {
            return Some(v);
        }
        sleep_ms(10);
    }
    None
}

/// The datagrams that arrive on a socket bound at `path`, collected by a thread.
struct Listener {
    got: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Listener {
    fn bind(path: &Path) -> Listener {
        let _ = std::fs::remove_file(path);
        let socket = UnixDatagram::bind(path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&got);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                match socket.recv(&mut buf) {
                    Ok(n) => sink.lock().unwrap().push(buf[..n].to_vec()),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                    Err(_) => return,
                }
                // Dropped with the test's Arc: stop then.
                if Arc::strong_count(&sink) == 1 {
                    return;
                }
            }
        });
        Listener { got }
    }

    fn texts(&self) -> Vec<String> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|d| String::from_utf8_lossy(d).into_owned())
            .collect()
    }

    fn count(&self, text: &str) -> usize {
        self.texts().iter().filter(|t| t.starts_with(text)).count()
    }
}

/// Runs `keepalived` (a path whose file name is `keepalived`) with `--dont-fork -l -D`,
/// under the fake `systemd` as pid 1 when `under_systemd`, through start, SIGHUP and
/// SIGTERM; returns the datagrams and the daemon's pid in its namespace.
fn record(dir: &Path, keepalived: &Path, under_systemd: bool, tag: &str) -> (Vec<String>, u32) {
    let ns = Ns::new("hasdn");
    for cmd in [
        "link add veth0 type veth peer name veth1",
        "addr add 10.99.0.1/24 dev veth0",
        "link set veth0 up",
        "link set veth1 up",
    ] {
        let ok = Command::new("ip")
            .args(["-n", &ns.0])
            .args(cmd.split(' '))
            .status()
            .unwrap()
            .success();
        assert!(ok, "{cmd}");
    }
    let conf = dir.join("keepalived.conf");
    let socket = dir.join(format!("{tag}.sock"));
    let listener = Listener::bind(&socket);
    let log_path = dir.join(format!("{tag}.log"));
    let log_file = std::fs::File::create(&log_path).unwrap();
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    // `& wait`: the shell forks the daemon (its parent is pid 1) instead of exec'ing it.
    let script = "mount -t tmpfs tmpfs /run && \"$0\" --dont-fork -l -D -f \"$1\" & wait";
    let pid1 = if under_systemd {
        dir.join("systemd")
    } else {
        PathBuf::from("/bin/sh")
    };
    let mut holder = Daemon(
        Command::new("ip")
            .args(["netns", "exec", &ns.0])
            .args(["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"])
            .arg(&pid1)
            .args(["-c", script])
            .arg(keepalived)
            .arg(&conf)
            .env("NOTIFY_SOCKET", &socket)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .unwrap(),
    );
    let name = pid1.file_name().unwrap().to_string_lossy().into_owned();
    let daemon = wait_for(Duration::from_secs(5), || {
        let init = children(holder.0.id())
            .into_iter()
            .find(|(_, c)| *c == name)?
            .0;
        children(init)
            .into_iter()
            .find(|(_, c)| c == "keepalived")
            .map(|(p, _)| p)
    })
    .unwrap_or_else(|| panic!("{tag}: no keepalived under pid 1:\n{}", log()));
    let status = std::fs::read_to_string(format!("/proc/{daemon}/status")).unwrap();
    let in_ns: u32 = status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|p| p.parse().ok())
        .unwrap();
    let kill = |sig| {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(daemon as i32), sig).unwrap();
    };
    if under_systemd {
        wait_for(Duration::from_secs(10), || {
            (listener.count("READY=1") == 1).then_some(())
        })
        .unwrap_or_else(|| panic!("{tag}: no READY=1: {:?}\n{}", listener.texts(), log()));
    } else {
        // Long enough for the start (the reference's READY=1 came ~130 ms after exec).
        sleep_ms(1500);
    }
    kill(nix::sys::signal::Signal::SIGHUP);
    if under_systemd {
        wait_for(Duration::from_secs(10), || {
            (listener.count("READY=1") == 2).then_some(())
        })
        .unwrap_or_else(|| {
            panic!(
                "{tag}: no READY=1 after the reload: {:?}\n{}",
                listener.texts(),
                log()
            )
        });
    } else {
        wait_for(Duration::from_secs(5), || {
            log().contains("Reload complete").then_some(())
        })
        .unwrap_or_else(|| panic!("{tag}: no reload:\n{}", log()));
    }
    kill(nix::sys::signal::Signal::SIGTERM);
    let start = Instant::now();
    while holder.0.try_wait().unwrap().is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{tag}: no stop\n{}",
            log()
        );
        sleep_ms(20);
    }
    sleep_ms(300);
    let texts = listener.texts();
    drop(listener);
    drop(ns);
    (texts, in_ns)
}

#[test]
fn keepalived_dont_fork_notifies_systemd_as_keepalived_2_2_7() {
    if !can_run() {
        return;
    }
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("sdn-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("keepalived.conf"), CONF).unwrap();
    std::fs::copy("/bin/dash", dir.join("systemd")).unwrap();
    let ours = dir.join("ours");
    std::fs::create_dir_all(&ours).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_ha-compat"), ours.join("keepalived")).unwrap();

    let (reference, ref_pid) = record(&dir, Path::new("/usr/sbin/keepalived"), true, "ref");
    let (ha, ha_pid) = record(&dir, &ours.join("keepalived"), true, "ours");
    eprintln!(
        "reference: {reference:?} (pid {ref_pid} in its namespace)\nours: {ha:?} (pid {ha_pid})"
    );
    // keepalived's VRRP child calls `sd_notify(1, "")` to unset the variable for its
    // scripts, which sends one empty datagram (systemd ignores zero-length messages).
    // ha-compat has no separate VRRP process and sends nothing for it.
    assert_eq!(
        reference.iter().filter(|t| t.is_empty()).count(),
        1,
        "{reference:?}"
    );
    let reference: Vec<String> = reference.into_iter().filter(|t| !t.is_empty()).collect();
    let mask = |texts: &[String], pid: u32| -> Vec<String> {
        texts
            .iter()
            .map(|t| t.replace(&format!("MAINPID={pid}"), "MAINPID=<pid>"))
            .collect()
    };
    let expected = [
        "READY=1\nMAINPID=<pid>",
        "RELOADING=1",
        "READY=1\nMAINPID=<pid>",
        "STOPPING=1",
    ];
    assert_eq!(mask(&reference, ref_pid), expected, "the reference changed");
    assert_eq!(mask(&ha, ha_pid), mask(&reference, ref_pid));

    // Not under systemd (pid 1 is `sh`): neither talks to the socket.
    let (reference, _) = record(&dir, Path::new("/usr/sbin/keepalived"), false, "ref-nosd");
    let (ha, _) = record(&dir, &ours.join("keepalived"), false, "ours-nosd");
    assert_eq!(reference, Vec::<String>::new());
    assert_eq!(ha, Vec::<String>::new());
    let _ = std::fs::remove_dir_all(&dir);
}
