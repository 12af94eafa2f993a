//! `ha-compat -f keepalived.conf -f haproxy.cfg` in a network namespace of its own: the
//! children carry the daemons' names as the real `pgrep -x`, `pidof` and `killall` see
//! them, a killed child comes back, a killed `keepalived`'s VIP leaves the interface, and
//! SIGTERM stops everything.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{sleep_ms, veth_ns, Daemon, Ns};

const VIP: &str = "10.99.0.100";

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
        // pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
        let Some((head, tail)) = stat.rsplit_once(')') else {
            continue;
        };
        let comm = head.split_once('(').map(|x| x.1).unwrap_or("").to_owned();
        let mut fields = tail.split_whitespace();
        let state = fields.next().unwrap_or("");
        let ppid: u32 = fields.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        if ppid == parent && state != "Z" {
            out.push((pid, comm));
        }
    }
    out
}

fn child(parent: u32, comm: &str) -> Option<u32> {
    children(parent)
        .into_iter()
        .find(|(_, c)| c == comm)
        .map(|(p, _)| p)
}

/// Waits up to `limit` for `f` to give something; returns it and the time it took.
fn wait_for<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<(T, Duration)> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(v) = f() {
            return Some((v, start.elapsed()));
        }
        sleep_ms(5);
    }
    None
}

fn has_vip(ns: &Ns) -> bool {
    let out = Command::new("ip")
        .args(["-n", &ns.0, "-4", "-o", "addr", "show", "dev", "veth0"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).contains(&format!("inet {VIP}/24"))
}

fn sh(ns: &Ns, script: &str) -> (bool, String) {
    let out = Command::new("ip")
        .args(["netns", "exec", &ns.0, "sh", "-c", script])
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn write_configs(dir: &Path) -> (PathBuf, PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let keepalived = dir.join("keepalived.conf");
    std::fs::write(
        &keepalived,
        format!(
            "global_defs {{\n    script_user root\n    enable_script_security\n}}\n\
             vrrp_script chk_haproxy {{\n    script \"/usr/bin/killall -0 haproxy\"\n    \
             interval 1\n    fall 2\n    rise 1\n    weight -60\n}}\n\
             vrrp_instance VI_1 {{\n    state MASTER\n    interface veth0\n    \
             virtual_router_id 51\n    priority 150\n    advert_int 1\n    \
             virtual_ipaddress {{\n        {VIP}/24\n    }}\n    \
             track_script {{\n        chk_haproxy\n    }}\n}}\n"
        ),
    )
    .unwrap();
    // Named so that only its content tells it is a haproxy.cfg.
    let haproxy = dir.join("lb.conf");
    std::fs::write(
        &haproxy,
        "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 5s\n    \
         timeout server 5s\nlisten l1\n    bind 127.0.0.1:8081\n    server s1 127.0.0.1:9001\n",
    )
    .unwrap();
    (keepalived, haproxy)
}

#[test]
fn supervisor_runs_restarts_cleans_vips_and_stops() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIP supervisor test: needs root");
        return;
    }
    let ns = veth_ns("hasup", "10.99.0.1/24");
    let dir = std::env::temp_dir().join(format!("ha-compat-supervisor-{}", std::process::id()));
    let (keepalived, haproxy) = write_configs(&dir);
    let log_path = dir.join("supervisor.log");
    let log_file = std::fs::File::create(&log_path).unwrap();
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    // `ip netns exec` execs the program: the pid is the supervisor's.
    let mut parent = Daemon(
        Command::new("ip")
            .args(["netns", "exec", &ns.0, env!("CARGO_BIN_EXE_ha-compat")])
            .arg("-f")
            .arg(&keepalived)
            .arg("-f")
            .arg(&haproxy)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .unwrap(),
    );
    let pid = parent.0.id();

    // Both children, under the daemons' names as the real tools see them.
    let ((ka, hap), _) = wait_for(Duration::from_secs(5), || {
        Some((child(pid, "keepalived")?, child(pid, "haproxy")?))
    })
    .unwrap_or_else(|| panic!("children: {:?}\n{}", children(pid), log()));
    let (ok, out) = sh(&ns, &format!("pgrep -x -P {pid} haproxy"));
    assert!(
        ok && out.trim() == hap.to_string(),
        "pgrep -x haproxy: {out}"
    );
    let (ok, out) = sh(&ns, &format!("pgrep -x -P {pid} keepalived"));
    assert!(
        ok && out.trim() == ka.to_string(),
        "pgrep -x keepalived: {out}"
    );
    let (ok, out) = sh(&ns, "pidof haproxy");
    assert!(
        ok && out.split_whitespace().any(|p| p == hap.to_string()),
        "pidof haproxy: {out}"
    );
    let (ok, _) = sh(&ns, "killall -0 haproxy");
    assert!(ok, "killall -0 haproxy");
    let cmdline = std::fs::read(format!("/proc/{hap}/cmdline")).unwrap();
    assert!(
        cmdline.starts_with(b"haproxy\0-W\0-db\0-f\0"),
        "{cmdline:?}"
    );
    let cmdline = std::fs::read(format!("/proc/{ka}/cmdline")).unwrap();
    assert!(cmdline.starts_with(b"keepalived\0-n\0"), "{cmdline:?}");

    // The only instance becomes master and adds its VIP.
    wait_for(Duration::from_secs(10), || has_vip(&ns).then_some(()))
        .unwrap_or_else(|| panic!("VIP never added:\n{}", log()));

    // SIGKILL to the proxy: logged, a new haproxy. The VIP stays: with `interval 1 fall 2`
    // the script fails at most once in the 100 ms the proxy is away.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(hap as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let (hap2, took) = wait_for(Duration::from_secs(5), || {
        child(pid, "haproxy").filter(|p| *p != hap)
    })
    .unwrap_or_else(|| panic!("no new haproxy:\n{}", log()));
    eprintln!("haproxy back after {took:?} (pid {hap} -> {hap2})");
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert!(
        log().contains(&format!(
            "ha-compat: haproxy (pid {hap}) killed by signal 9 (SIGKILL) after"
        )),
        "{}",
        log()
    );
    sleep_ms(2500);
    assert!(
        has_vip(&ns),
        "VIP lost after a 100 ms proxy outage:\n{}",
        log()
    );
    assert_eq!(child(pid, "keepalived"), Some(ka), "keepalived untouched");

    // SIGKILL to keepalived: it cannot remove its VIP; the parent does.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(ka as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let (_, took) = wait_for(Duration::from_secs(2), || (!has_vip(&ns)).then_some(()))
        .unwrap_or_else(|| panic!("VIP stayed after keepalived's SIGKILL:\n{}", log()));
    eprintln!("VIP removed {took:?} after keepalived's SIGKILL");
    assert!(took < Duration::from_millis(500), "{took:?}");
    assert!(
        log().contains(&format!("keepalived is gone: removed {VIP}/24 from veth0")),
        "{}",
        log()
    );
    let (ka2, _) = wait_for(Duration::from_secs(5), || {
        child(pid, "keepalived").filter(|p| *p != ka)
    })
    .unwrap_or_else(|| panic!("no new keepalived:\n{}", log()));
    let (_, took) = wait_for(Duration::from_secs(10), || has_vip(&ns).then_some(()))
        .unwrap_or_else(|| panic!("the new keepalived never added the VIP:\n{}", log()));
    eprintln!("VIP back {took:?} after the new keepalived (pid {ka2}) started");

    // SIGHUP: keepalived reloads (it logs `Reloading`, as keepalived 2.2.7), the proxy
    // child is left alone.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGHUP,
    )
    .unwrap();
    wait_for(Duration::from_secs(3), || {
        log().contains("Reloading ...").then_some(())
    })
    .unwrap_or_else(|| panic!("keepalived did not reload:\n{}", log()));
    sleep_ms(300);
    assert_eq!(child(pid, "haproxy"), Some(hap2), "{}", log());
    assert_eq!(child(pid, "keepalived"), Some(ka2), "{}", log());

    // SIGTERM: children stopped, VIP gone, exit 0.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = parent.0.try_wait().unwrap() {
            break s;
        }
        assert!(start.elapsed() < Duration::from_secs(8), "{}", log());
        sleep_ms(10);
    };
    eprintln!("stopped in {:?}", start.elapsed());
    assert_eq!(status.code(), Some(0), "{}", log());
    for p in [ka2, hap2] {
        assert!(
            !Path::new(&format!("/proc/{p}")).exists()
                || std::fs::read_to_string(format!("/proc/{p}/stat"))
                    .is_ok_and(|s| s.contains(") Z ")),
            "child {p} still running"
        );
    }
    assert!(!has_vip(&ns), "VIP left after the stop");
    assert!(log().contains("ha-compat: stopped"), "{}", log());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Only a haproxy.cfg: only the `haproxy` child; and it dies with its parent.
#[test]
fn one_kind_of_file_starts_one_child_which_dies_with_the_parent() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIP supervisor test: needs root");
        return;
    }
    let ns = Ns::new("hasup1");
    let dir = std::env::temp_dir().join(format!("ha-compat-supervisor1-{}", std::process::id()));
    let (_, haproxy) = write_configs(&dir);
    let mut parent = Daemon(
        Command::new("ip")
            .args([
                "netns",
                "exec",
                &ns.0,
                env!("CARGO_BIN_EXE_ha-compat"),
                "run",
            ])
            .arg("-f")
            .arg(&haproxy)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid = parent.0.id();
    let (hap, _) = wait_for(Duration::from_secs(5), || child(pid, "haproxy"))
        .unwrap_or_else(|| panic!("{:?}", children(pid)));
    sleep_ms(300);
    assert_eq!(children(pid), vec![(hap, "haproxy".to_owned())]);
    // SIGKILL to the parent: PR_SET_PDEATHSIG ends the child.
    parent.0.kill().unwrap();
    parent.0.wait().unwrap();
    wait_for(Duration::from_secs(2), || {
        std::fs::read_to_string(format!("/proc/{hap}/stat"))
            .map_or(true, |s| s.contains(") Z "))
            .then_some(())
    })
    .unwrap_or_else(|| panic!("haproxy {hap} outlived its parent"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The proxy child killed each time it comes back: the restarts slow down (100 ms, 200 ms,
/// ... 3.2 s), the `keepalived` child's `killall -0 haproxy` fails `fall` times and the
/// priority drops; left alone, the proxy comes back and the priority with it. In a PID
/// namespace of its own (the supervisor is its pid 1), so `killall` sees only this test's
/// haproxy.
#[test]
fn a_crash_looping_proxy_fails_the_track_script_then_recovers() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIP supervisor test: needs root");
        return;
    }
    let ns = veth_ns("hasup2", "10.99.0.1/24");
    let dir = std::env::temp_dir().join(format!("ha-compat-supervisor2-{}", std::process::id()));
    let (keepalived, haproxy) = write_configs(&dir);
    let log_path = dir.join("supervisor.log");
    let log_file = std::fs::File::create(&log_path).unwrap();
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let holder = Daemon(
        Command::new("ip")
            .args(["netns", "exec", &ns.0])
            .args(["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"])
            .arg(env!("CARGO_BIN_EXE_ha-compat"))
            .arg("-f")
            .arg(&keepalived)
            .arg("-f")
            .arg(&haproxy)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .unwrap(),
    );
    let (pid, _) = wait_for(Duration::from_secs(5), || child(holder.0.id(), "ha-compat"))
        .unwrap_or_else(|| panic!("no supervisor under unshare: {:?}", children(holder.0.id())));
    wait_for(Duration::from_secs(10), || has_vip(&ns).then_some(()))
        .unwrap_or_else(|| panic!("VIP never added:\n{}", log()));
    // The first run of the script may fail: keepalived can run it before the haproxy
    // child has its name (`exe` until its first instruction renames it), as a real
    // keepalived started beside a real haproxy may. What counts comes after a success.
    let succeeded_at = log()
        .find("VRRP_Script(chk_haproxy) succeeded")
        .unwrap_or_else(|| panic!("the track script never succeeded:\n{}", log()));

    // Kill the proxy each time it is back, until the script has failed `fall` (2) times.
    let mut kills = 0;
    wait_for(Duration::from_secs(15), || {
        if let Some(hap) = child(pid, "haproxy") {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(hap as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            kills += 1;
        }
        log()[succeeded_at..]
            .contains("VRRP_Script(chk_haproxy) failed")
            .then_some(())
    })
    .unwrap_or_else(|| panic!("the track script never failed:\n{}", log()));
    eprintln!("track script failed after {kills} kills");
    assert!(
        log()[succeeded_at..].contains("Changing effective priority from 150 to 90"),
        "{}",
        log()
    );
    // How far the backoff got before the script's `fall` failures depends on where the
    // kills land in its 1 s interval (fewer kills on a loaded machine): any delay past
    // the first 100 ms shows it grew.
    assert!(
        ["200 ms", "400 ms", "800 ms", "1.6 s", "3.2 s"]
            .iter()
            .any(|d| log().contains(&format!("restarting in {d}"))),
        "the restarts slowed down:\n{}",
        log()
    );
    // Left alone: the proxy comes back, the script succeeds, the priority is restored.
    let failed_at = log().rfind("VRRP_Script(chk_haproxy) failed").unwrap();
    wait_for(Duration::from_secs(15), || {
        log()[failed_at..]
            .contains("Changing effective priority from 90 to 150")
            .then_some(())
    })
    .unwrap_or_else(|| panic!("the priority never came back:\n{}", log()));
    assert!(child(pid, "haproxy").is_some());
    if std::env::var_os("HA_COMPAT_KEEP_LOG").is_some() {
        eprintln!("{}", log());
    }
    drop(holder);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `bash`'s `/dev/tcp` connect to 127.0.0.1:`port` in the namespace: true when something
/// accepts.
fn answers(ns: &Ns, port: u16) -> bool {
    sh(
        ns,
        &format!("exec bash -c 'exec 3<>/dev/tcp/127.0.0.1/{port}' 2>/dev/null"),
    )
    .0
}

fn signal(pid: u32, sig: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), sig).unwrap();
}

fn listen_on(port: u16) -> String {
    format!(
        "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 5s\n    \
         timeout server 5s\nlisten l1\n    bind 127.0.0.1:{port}\n    server s1 127.0.0.1:9001\n"
    )
}

/// SIGHUP at the supervisor reloads both children: keepalived with SIGHUP (its VRRP state
/// unchanged), the haproxy master with SIGUSR2 (a new worker on the new file, the old one
/// told to finish). A haproxy.cfg that no longer loads leaves the old worker serving, as
/// HAProxy's master does. A dead worker ends its master, which the supervisor restarts.
#[test]
fn sighup_reloads_both_and_an_invalid_haproxy_cfg_leaves_the_old_one_serving() {
    use nix::sys::signal::Signal;
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIP supervisor test: needs root");
        return;
    }
    let ns = veth_ns("hasup3", "10.99.0.1/24");
    let dir = std::env::temp_dir().join(format!("ha-compat-supervisor3-{}", std::process::id()));
    let (keepalived, haproxy) = write_configs(&dir);
    let log_path = dir.join("supervisor.log");
    let log_file = std::fs::File::create(&log_path).unwrap();
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    // systemd's socket: the supervisor says READY=1 once its children run, STOPPING=1 at
    // the stop, and nothing else; the children never see the variable.
    let notify_path = dir.join("notify.sock");
    let _ = std::fs::remove_file(&notify_path);
    let notify = std::os::unix::net::UnixDatagram::bind(&notify_path).unwrap();
    notify.set_nonblocking(true).unwrap();
    let mut notices: Vec<String> = Vec::new();
    let drain = |notices: &mut Vec<String>| {
        let mut buf = [0u8; 512];
        while let Ok(n) = notify.recv(&mut buf) {
            notices.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        notices.clone()
    };
    let mut parent = Daemon(
        Command::new("ip")
            .args(["netns", "exec", &ns.0, env!("CARGO_BIN_EXE_ha-compat")])
            .arg("-f")
            .arg(&keepalived)
            .arg("-f")
            .arg(&haproxy)
            .env("NOTIFY_SOCKET", &notify_path)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .unwrap(),
    );
    let pid = parent.0.id();
    let ((ka, master), _) = wait_for(Duration::from_secs(5), || {
        Some((child(pid, "keepalived")?, child(pid, "haproxy")?))
    })
    .unwrap_or_else(|| panic!("children: {:?}\n{}", children(pid), log()));
    // HAProxy's master-worker: the master's worker is named haproxy too.
    let (worker, _) = wait_for(Duration::from_secs(5), || child(master, "haproxy"))
        .unwrap_or_else(|| panic!("no worker under the master {master}:\n{}", log()));
    wait_for(Duration::from_secs(10), || has_vip(&ns).then_some(()))
        .unwrap_or_else(|| panic!("VIP never added:\n{}", log()));
    assert_eq!(
        drain(&mut notices),
        [format!("READY=1\nMAINPID={pid}")],
        "{}",
        log()
    );
    for p in [ka, master, worker] {
        let environ = std::fs::read(format!("/proc/{p}/environ")).unwrap();
        assert!(
            !environ
                .split(|b| *b == 0)
                .any(|v| v.starts_with(b"NOTIFY_SOCKET=")),
            "pid {p} inherited NOTIFY_SOCKET"
        );
    }
    wait_for(Duration::from_secs(5), || answers(&ns, 8081).then_some(()))
        .unwrap_or_else(|| panic!("8081 never answered:\n{}", log()));
    assert!(!answers(&ns, 8082));

    // A changed, valid file: the new listener answers, the old one goes.
    std::fs::write(&haproxy, listen_on(8082)).unwrap();
    let reload_at = log().len();
    let start = Instant::now();
    signal(pid, Signal::SIGHUP);
    let (_, took) = wait_for(Duration::from_secs(5), || answers(&ns, 8082).then_some(()))
        .unwrap_or_else(|| panic!("8082 never answered after the reload:\n{}", log()));
    eprintln!("new listener answering {took:?} after SIGHUP");
    wait_for(Duration::from_secs(5), || {
        (!answers(&ns, 8081)).then_some(())
    })
    .unwrap_or_else(|| panic!("8081 still answers after the reload:\n{}", log()));
    eprintln!("old listener gone {:?} after SIGHUP", start.elapsed());
    let reloaded = &log()[reload_at..];
    assert!(
        reloaded.contains(&format!(
            "ha-compat: SIGHUP: reloading keepalived (pid {ka}) with SIGHUP, haproxy (pid {master}) with SIGUSR2"
        )),
        "{reloaded}"
    );
    wait_for(Duration::from_secs(3), || {
        log()[reload_at..].contains("Reloading ...").then_some(())
    })
    .unwrap_or_else(|| panic!("keepalived did not reload:\n{}", log()));
    let (worker2, _) = wait_for(Duration::from_secs(5), || {
        let now = children(master);
        (now.len() == 1 && now[0].0 != worker && now[0].1 == "haproxy").then_some(now[0].0)
    })
    .unwrap_or_else(|| panic!("workers: {:?}\n{}", children(master), log()));
    assert_eq!(child(pid, "haproxy"), Some(master), "the same master");
    assert_eq!(child(pid, "keepalived"), Some(ka), "the same keepalived");
    assert!(has_vip(&ns), "VIP lost across the reload:\n{}", log());
    assert!(
        !log()[reload_at..].contains("Entering BACKUP STATE"),
        "VRRP state changed by the reload:\n{}",
        log()
    );

    // A file that does not load: the master refuses it (HAProxy's `Loading failure!`)
    // and starts no worker; the old one serves on.
    std::fs::write(
        &haproxy,
        "listen l1\n    bind 127.0.0.1:8083\n    no_such_keyword here\n",
    )
    .unwrap();
    let reload_at = log().len();
    signal(pid, Signal::SIGHUP);
    wait_for(Duration::from_secs(5), || {
        log()[reload_at..]
            .contains("Loading failure!")
            .then_some(())
    })
    .unwrap_or_else(|| panic!("the reload was not refused:\n{}", log()));
    sleep_ms(200);
    assert!(answers(&ns, 8082), "the old worker stopped:\n{}", log());
    assert!(!answers(&ns, 8083));
    assert_eq!(children(master), vec![(worker2, "haproxy".to_owned())]);
    assert_eq!(child(pid, "haproxy"), Some(master), "{}", log());
    assert!(has_vip(&ns));

    // The worker killed: its master ends (as HAProxy's), the supervisor starts another.
    std::fs::write(&haproxy, listen_on(8082)).unwrap();
    signal(worker2, Signal::SIGKILL);
    let (master2, took) = wait_for(Duration::from_secs(5), || {
        child(pid, "haproxy").filter(|p| *p != master)
    })
    .unwrap_or_else(|| panic!("no new master:\n{}", log()));
    eprintln!("a new haproxy master {took:?} after its worker's SIGKILL");
    assert!(
        log().contains(&format!(
            "ha-compat: haproxy (pid {master}) exited with status 137 after"
        )),
        "{}",
        log()
    );
    wait_for(Duration::from_secs(5), || answers(&ns, 8082).then_some(()))
        .unwrap_or_else(|| panic!("the new master's worker does not serve:\n{}", log()));
    assert!(child(master2, "haproxy").is_some());

    signal(pid, Signal::SIGTERM);
    let start = Instant::now();
    let status = loop {
        if let Some(s) = parent.0.try_wait().unwrap() {
            break s;
        }
        assert!(start.elapsed() < Duration::from_secs(8), "{}", log());
        sleep_ms(10);
    };
    assert_eq!(status.code(), Some(0), "{}", log());
    // Nothing on the reloads nor on the child restarts; STOPPING=1 at the stop.
    assert_eq!(
        drain(&mut notices),
        [format!("READY=1\nMAINPID={pid}"), "STOPPING=1".to_owned()]
    );
    if std::env::var_os("HA_COMPAT_KEEP_LOG").is_some() {
        eprintln!("{}", log());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// keepalived's dump signals (SIGUSR1 data, SIGUSR2 stats, SIGRTMIN+2 JSON) sent to the
/// supervisor reach its `keepalived` child, which writes `/tmp/keepalived.data`, `.stats`
/// and `.json`; the `haproxy` child does not get them (its SIGUSR1 is a soft stop, its
/// SIGUSR2 a reload). `/run/keepalived.pid` names the `keepalived` child, as with
/// `keepalived -n`. In a mount namespace with its own tmpfs on `/tmp` and `/run`, so the
/// test never writes the host's `/tmp/keepalived.*` or `/run/keepalived.pid`; the binary
/// and the files are staged into that `/run` (a checkout under `/tmp` would be hidden).
#[test]
fn dump_signals_at_the_supervisor_reach_keepalived_only() {
    use nix::sys::signal::Signal;
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIP supervisor test: needs root");
        return;
    }
    let ns = veth_ns("hasup4", "10.99.0.1/24");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("ha-compat-supervisor4-{}", std::process::id()));
    let (keepalived, haproxy) = write_configs(&dir);
    let log_path = dir.join("supervisor.log");
    let log_file = std::fs::File::create(&log_path).unwrap();
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let script = "exec 3<\"$1\" 4<\"$2\" 5<\"$3\" && \
        mount -t tmpfs tmpfs /tmp && mount -t tmpfs tmpfs /run && mkdir /run/st && \
        cat <&3 >/run/st/ha-compat && chmod 755 /run/st/ha-compat && \
        cat <&4 >/run/st/keepalived.conf && cat <&5 >/run/st/lb.conf && exec 3<&- 4<&- 5<&- && \
        exec /run/st/ha-compat -f /run/st/keepalived.conf -f /run/st/lb.conf";
    let mut parent = Daemon(
        Command::new("ip")
            .args(["netns", "exec", &ns.0])
            .args(["unshare", "-m", "--propagation", "private"])
            .args(["sh", "-c", script, "sh", env!("CARGO_BIN_EXE_ha-compat")])
            .arg(&keepalived)
            .arg(&haproxy)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .unwrap(),
    );
    let pid = parent.0.id();
    let ((ka, master), _) = wait_for(Duration::from_secs(5), || {
        Some((child(pid, "keepalived")?, child(pid, "haproxy")?))
    })
    .unwrap_or_else(|| panic!("children: {:?}\n{}", children(pid), log()));
    let (worker, _) = wait_for(Duration::from_secs(5), || child(master, "haproxy"))
        .unwrap_or_else(|| panic!("no worker:\n{}", log()));
    let private = |path: &str| format!("/proc/{pid}/root{path}");
    let (pidfile, _) = wait_for(Duration::from_secs(5), || {
        std::fs::read_to_string(private("/run/keepalived.pid")).ok()
    })
    .unwrap_or_else(|| panic!("no /run/keepalived.pid:\n{}", log()));
    assert_eq!(pidfile, format!("{ka}\n"), "the keepalived child's pid");
    wait_for(Duration::from_secs(10), || has_vip(&ns).then_some(()))
        .unwrap_or_else(|| panic!("VIP never added:\n{}", log()));

    signal(pid, Signal::SIGUSR1);
    signal(pid, Signal::SIGUSR2);
    // bash's kill knows RTMIN+2 (keepalived's SIGJSON) by name.
    let ok = Command::new("bash")
        .args(["-c", &format!("kill -s RTMIN+2 {pid}")])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    for (file, starts) in [
        ("/tmp/keepalived.data", "------< Global definitions >------"),
        ("/tmp/keepalived.stats", "VRRP Instance: VI_1"),
        ("/tmp/keepalived.json", "["),
    ] {
        let (text, took) = wait_for(Duration::from_secs(3), || {
            std::fs::read_to_string(private(file))
                .ok()
                .filter(|t| !t.is_empty())
        })
        .unwrap_or_else(|| panic!("{file} not written:\n{}", log()));
        eprintln!("{file} written {took:?} after the signals");
        assert!(
            text.trim_start().starts_with(starts),
            "{file}: {}",
            &text[..text.len().min(200)]
        );
    }
    for name in ["SIGUSR1", "SIGUSR2", "SIGRTMIN+2"] {
        assert!(
            log().contains(&format!(
                "ha-compat: {name}: forwarded to keepalived (pid {ka})"
            )),
            "{}",
            log()
        );
    }
    sleep_ms(300);
    assert_eq!(child(pid, "haproxy"), Some(master), "{}", log());
    assert_eq!(
        children(master),
        vec![(worker, "haproxy".to_owned())],
        "the haproxy worker neither stopped nor reloaded:\n{}",
        log()
    );
    assert_eq!(child(pid, "keepalived"), Some(ka));
    assert!(has_vip(&ns));

    signal(pid, Signal::SIGTERM);
    let start = Instant::now();
    let status = loop {
        if let Some(s) = parent.0.try_wait().unwrap() {
            break s;
        }
        assert!(start.elapsed() < Duration::from_secs(8), "{}", log());
        sleep_ms(10);
    };
    assert_eq!(status.code(), Some(0), "{}", log());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A `keepalived` child killed with SIGKILL while MASTER: the supervisor sends a
/// priority-0 advert for it (as keepalived's own clean stop does) before removing the VIP,
/// so the peer, a real keepalived 2.2.7 as BACKUP (priority 100) in a second namespace,
/// takes over after its skew time (~0.6 s) rather than its master-down interval (3 s plus
/// the skew, less the time since the last advert). The outage is measured as the time from the SIGKILL until the peer
/// holds the VIP.
#[test]
fn a_killed_keepalived_master_hands_over_at_once_through_a_priority_0_advert() {
    use nix::sys::signal::Signal;
    if !nix::unistd::geteuid().is_root() || !Path::new("/usr/sbin/keepalived").exists() {
        eprintln!("SKIP supervisor test: needs root and keepalived");
        return;
    }
    let a = Ns::new("hasup5a");
    let b = Ns::new("hasup5b");
    let ip = |args: &[&str]| {
        let ok = Command::new("ip").args(args).status().unwrap().success();
        assert!(ok, "ip {args:?}");
    };
    ip(&[
        "-n", &a.0, "link", "add", "veth0", "type", "veth", "peer", "name", "veth0", "netns", &b.0,
    ]);
    for (ns, addr) in [(&a, "10.99.0.1/24"), (&b, "10.99.0.2/24")] {
        ip(&["-n", &ns.0, "addr", "add", addr, "dev", "veth0"]);
        ip(&["-n", &ns.0, "link", "set", "veth0", "up"]);
    }
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("ha-compat-supervisor5-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let conf = |state: &str, priority: u8| {
        format!(
            "vrrp_instance VI_1 {{\n    state {state}\n    interface veth0\n    \
             virtual_router_id 51\n    priority {priority}\n    advert_int 1\n    \
             authentication {{\n        auth_type PASS\n        auth_pass s3cret\n    }}\n    \
             virtual_ipaddress {{\n        {VIP}/24\n    }}\n}}\n"
        )
    };
    std::fs::write(dir.join("a.conf"), conf("MASTER", 150)).unwrap();
    std::fs::write(dir.join("b.conf"), conf("BACKUP", 100)).unwrap();
    let holds = |ns: &Ns| {
        let out = Command::new("ip")
            .args(["-n", &ns.0, "-4", "-o", "addr", "show", "dev", "veth0"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).contains(&format!("inet {VIP}/24"))
    };
    let a_log_path = dir.join("a.log");
    let b_log_path = dir.join("b.log");
    let a_log = || std::fs::read_to_string(&a_log_path).unwrap_or_default();
    let b_log = || std::fs::read_to_string(&b_log_path).unwrap_or_default();
    // The reference peer, with its pid files in a private /run.
    let b_file = std::fs::File::create(&b_log_path).unwrap();
    let _peer = Daemon(
        Command::new("ip")
            .args(["netns", "exec", &b.0])
            .args(["unshare", "-m", "--propagation", "private"])
            .args([
                "sh",
                "-c",
                "mount -t tmpfs tmpfs /run && exec /usr/sbin/keepalived -n -l -D -f \"$0\"",
            ])
            .arg(dir.join("b.conf"))
            .stdin(Stdio::null())
            .stdout(b_file.try_clone().unwrap())
            .stderr(b_file)
            .spawn()
            .unwrap(),
    );
    let a_file = std::fs::File::create(&a_log_path).unwrap();
    let parent = Daemon(
        Command::new("ip")
            .args(["netns", "exec", &a.0])
            .args(["unshare", "-m", "--propagation", "private"])
            .args([
                "sh",
                "-c",
                "mount -t tmpfs tmpfs /run && exec \"$0\" -f \"$1\"",
            ])
            .arg(env!("CARGO_BIN_EXE_ha-compat"))
            .arg(dir.join("a.conf"))
            .stdin(Stdio::null())
            .stdout(a_file.try_clone().unwrap())
            .stderr(a_file)
            .spawn()
            .unwrap(),
    );
    let pid = parent.0.id();
    // Usually ~3.4 s (A's master-down interval); longer when the peer's came first and A,
    // with the higher priority, has to preempt it.
    wait_for(Duration::from_secs(20), || {
        (holds(&a) && !holds(&b) && b_log().contains("Entering BACKUP STATE")).then_some(())
    })
    .unwrap_or_else(|| panic!("A never master:\n{}\n--- B\n{}", a_log(), b_log()));
    // A few adverts heard by the backup first.
    sleep_ms(1500);
    let ka = child(pid, "keepalived").unwrap();
    let killed = Instant::now();
    signal(ka, Signal::SIGKILL);
    let (_, outage) = wait_for(Duration::from_secs(6), || holds(&b).then_some(()))
        .unwrap_or_else(|| panic!("B never took over:\n{}\n--- B\n{}", a_log(), b_log()));
    eprintln!(
        "the peer holds the VIP {:?} after the MASTER's keepalived was SIGKILLed",
        killed.elapsed()
    );
    assert!(
        a_log().contains("keepalived is gone: (VI_1) sent 0 priority to 224.0.0.18"),
        "{}",
        a_log()
    );
    assert!(
        b_log().contains("(VI_1) Backup received priority 0 advertisement"),
        "the reference did not take the advert:\n{}",
        b_log()
    );
    // The skew time of priority 100 is (256 - 100) / 256 s = 0.61 s; the master-down
    // interval 3.61 s.
    assert!(
        outage < Duration::from_millis(1500),
        "{outage:?}:\n{}\n--- B\n{}",
        a_log(),
        b_log()
    );
    drop(parent);
    let _ = std::fs::remove_dir_all(&dir);
}
