//! The drop-in command lines against the real daemons: `/usr/sbin/haproxy` 2.6.12 and
//! `/usr/sbin/keepalived` 2.2.7 run with the same flags as ha-compat (called through
//! symlinks named `haproxy` and `keepalived`), each in a network namespace of its own
//! (127.0.0.1 and a veth pair inside it only), and compared: daemon parents' exit
//! status, pid files naming a live session-leader process of the right name with stdio
//! on /dev/null, `-sf` stopping the old process, `-p` without daemon mode writing
//! nothing, keepalived's pid files removed at stop, bad flags' exit status and first
//! stderr line. Needs root; skipped otherwise.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const HAPROXY: &str = "/usr/sbin/haproxy";
const KEEPALIVED: &str = "/usr/sbin/keepalived";

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A namespace with `lo` up and a veth pair (`d0` 10.9.0.1/24, for keepalived's
/// interface), a scratch directory, and on drop: every process in the namespace killed
/// (daemons outlive their parents), the namespace and the directory removed.
struct Lab {
    ns: String,
    dir: PathBuf,
}

impl Lab {
    fn new() -> Lab {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let ns = format!("hacflags-{}-{n}", std::process::id());
        let dir = std::env::temp_dir().join(&ns);
        std::fs::create_dir_all(&dir).unwrap();
        let lab = Lab { ns, dir };
        for cmd in [
            "ip netns add NS",
            "ip -n NS link set lo up",
            "ip -n NS link add d0 type veth peer name d1",
            "ip -n NS addr add 10.9.0.1/24 dev d0",
            "ip -n NS link set d0 up",
            "ip -n NS link set d1 up",
        ] {
            let cmd = cmd.replace("NS", &lab.ns);
            let words: Vec<&str> = cmd.split(' ').collect();
            let ok = Command::new(words[0])
                .args(&words[1..])
                .status()
                .unwrap()
                .success();
            assert!(ok, "{cmd}");
        }
        lab
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Runs `program args` in the namespace to its end (a daemon's parent).
    fn run(&self, program: &Path, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.ns])
            .arg(program)
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn pids(&self) -> Vec<i32> {
        let out = Command::new("ip")
            .args(["netns", "pids", &self.ns])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for pid in self.pids() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        std::thread::sleep(Duration::from_millis(100));
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn can_run(test: &str) -> bool {
    let ok = nix::unistd::geteuid().is_root()
        && Path::new(HAPROXY).exists()
        && Path::new(KEEPALIVED).exists();
    if !ok {
        eprintln!("SKIP {test}: needs root, {HAPROXY} and {KEEPALIVED}");
    }
    ok
}

/// ha-compat under `name` (a symlink in a directory of its own).
fn ours(name: &str) -> PathBuf {
    // In the target's scratch directory: nothing left in /tmp.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("flags-reference-bin");
    std::fs::create_dir_all(&dir).unwrap();
    let link = dir.join(name);
    if !link.exists() {
        let _ = std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_ha-compat"), &link);
    }
    link
}

fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

fn alive(pid: i32) -> bool {
    // A zombie is gone for our purpose (its parent is the test's `ip netns exec`).
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.split(") ").nth(1).unwrap_or("").starts_with('Z'))
        .unwrap_or(false)
}

/// What a pid file says about the process it names.
#[derive(Debug, PartialEq)]
struct PidFileFacts {
    /// "PID\n" exactly.
    format_ok: bool,
    comm: String,
    session_leader: bool,
    stdio_dev_null: bool,
}

fn pidfile_facts(path: &Path) -> (i32, PidFileFacts) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let pid: i32 = text.trim().parse().unwrap();
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or("");
    let sid: i32 = after
        .split(' ')
        .nth(3)
        .and_then(|s| s.parse().ok())
        .unwrap_or(-1);
    let stdio_dev_null = (0..3).all(|fd| {
        std::fs::read_link(format!("/proc/{pid}/fd/{fd}"))
            .is_ok_and(|t| t == Path::new("/dev/null"))
    });
    (
        pid,
        PidFileFacts {
            format_ok: text == format!("{pid}\n"),
            comm: comm.trim_end().to_owned(),
            session_leader: sid == pid,
            stdio_dev_null,
        },
    )
}

const HAPROXY_CFG: &str = "global
    log stdout local0
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen a
    bind 127.0.0.1:8001
    server s1 127.0.0.1:9
";

/// `haproxy -D -p F -f CFG`, then a second one with `-sf OLD`: what an observer sees.
#[derive(Debug, PartialEq)]
struct DaemonRun {
    parent_status: Option<i32>,
    pidfile: PidFileFacts,
    second_parent_status: Option<i32>,
    second_pidfile: PidFileFacts,
    /// The first daemon is gone within 5 s of the second's parent exiting.
    old_stopped_by_sf: bool,
    new_listening: bool,
    /// `-D -p /nonexistent/x.pid`: the parent's status and its last stderr line's
    /// message (program path replaced).
    unwritable_pidfile: (Option<i32>, String),
}

fn haproxy_daemon_and_sf(program: &Path) -> DaemonRun {
    let lab = Lab::new();
    let cfg = lab.path("h.cfg");
    std::fs::write(&cfg, HAPROXY_CFG).unwrap();
    let pid_path = lab.path("h.pid");
    let (cfg_s, pid_s) = (cfg.display().to_string(), pid_path.display().to_string());
    let first = lab.run(program, &["-D", "-p", &pid_s, "-f", &cfg_s]);
    // HAProxy's parent writes the pid file and exits while its child is still calling
    // setsid() and moving stdio.
    std::thread::sleep(Duration::from_millis(300));
    let (old, pidfile) = pidfile_facts(&pid_path);
    let second = lab.run(
        program,
        &["-D", "-p", &pid_s, "-f", &cfg_s, "-sf", &old.to_string()],
    );
    std::thread::sleep(Duration::from_millis(300));
    let (new, second_pidfile) = pidfile_facts(&pid_path);
    let old_stopped_by_sf = wait_until(Duration::from_secs(5), || !alive(old));
    let new_listening = alive(new) && new != old;
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(new),
        nix::sys::signal::Signal::SIGTERM,
    );
    let failed = lab.run(program, &["-D", "-p", "/nonexistent/x.pid", "-f", &cfg_s]);
    let text =
        String::from_utf8_lossy(&failed.stderr).replace(&program.display().to_string(), "PROGRAM");
    let last = text
        .lines()
        .last()
        .and_then(|l| l.split_once(" : "))
        .map(|(_, m)| m.to_owned())
        .unwrap_or_default();
    DaemonRun {
        unwritable_pidfile: (failed.status.code(), last),
        parent_status: first.status.code(),
        pidfile,
        second_parent_status: second.status.code(),
        second_pidfile,
        old_stopped_by_sf,
        new_listening,
    }
}

#[test]
fn haproxy_daemon_pidfile_and_sf_as_the_reference() {
    if !can_run("haproxy_daemon_pidfile_and_sf_as_the_reference") {
        return;
    }
    let reference = haproxy_daemon_and_sf(Path::new(HAPROXY));
    let expected = PidFileFacts {
        format_ok: true,
        comm: "haproxy".into(),
        session_leader: true,
        stdio_dev_null: true,
    };
    assert_eq!(
        reference.pidfile, expected,
        "reference changed: {reference:?}"
    );
    assert!(reference.old_stopped_by_sf, "{reference:?}");
    let ours = haproxy_daemon_and_sf(&ours("haproxy"));
    assert_eq!(ours, reference);
}

/// `-p` without `-D`/`-W`: neither writes the file (measured with 2.6.12).
fn haproxy_foreground_pidfile(program: &Path) -> bool {
    let lab = Lab::new();
    let cfg = lab.path("h.cfg");
    std::fs::write(&cfg, HAPROXY_CFG).unwrap();
    let pid_path = lab.path("fg.pid");
    let mut child = Command::new("ip")
        .args(["netns", "exec", &lab.ns])
        .arg(program)
        .args(["-db", "-p"])
        .arg(&pid_path)
        .arg("-f")
        .arg(&cfg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let listening = wait_until(Duration::from_secs(5), || {
        Command::new("ip")
            .args(["netns", "exec", &lab.ns, "ss", "-Hltn", "sport = :8001"])
            .output()
            .is_ok_and(|o| !o.stdout.is_empty())
    });
    assert!(listening, "{} did not listen", program.display());
    let written = pid_path.exists();
    let _ = child.kill();
    let _ = child.wait();
    written
}

#[test]
fn haproxy_foreground_writes_no_pidfile_as_the_reference() {
    if !can_run("haproxy_foreground_writes_no_pidfile_as_the_reference") {
        return;
    }
    let reference = haproxy_foreground_pidfile(Path::new(HAPROXY));
    assert!(
        !reference,
        "reference changed: it wrote the pid file in the foreground"
    );
    assert_eq!(haproxy_foreground_pidfile(&ours("haproxy")), reference);
}

fn status_and_first_stderr_line(program: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // HAProxy's NOTICE lines name its version (ours says ha-compat's): the first line
    // after them. Its own lines carry its pid: "[ALERT]    (1234) : ...".
    let first = stderr
        .lines()
        .find(|l| !l.starts_with("[NOTICE]"))
        .unwrap_or("")
        .to_owned();
    let first = match (first.find('('), first.find(") :")) {
        (Some(a), Some(b)) if a < b => format!("{}(PID{}", &first[..a], &first[b..]),
        _ => first,
    };
    (out.status.code(), first)
}

#[test]
fn bad_flags_fail_as_the_reference() {
    if !can_run("bad_flags_fail_as_the_reference") {
        return;
    }
    let cases: &[(&str, &[&str])] = &[
        ("haproxy", &["-Z"]),
        ("haproxy", &["-p"]),
        ("haproxy", &["-c", "-S"]),
        ("haproxy", &["-x"]),
        ("haproxy", &["notaflag"]),
        ("haproxy", &["-sf", "0"]),
        ("keepalived", &["-Z"]),
        ("keepalived", &["--bogus"]),
        ("keepalived", &["-f"]),
        ("keepalived", &["--signum=FOO"]),
    ];
    for (name, args) in cases {
        let reference = if *name == "haproxy" {
            HAPROXY
        } else {
            KEEPALIVED
        };
        let expected = status_and_first_stderr_line(Path::new(reference), args);
        let got = status_and_first_stderr_line(&ours(name), args);
        assert_eq!(got, expected, "{name} {args:?}");
    }
    // The -sf parse error: the alert after HAProxy's two NOTICE lines.
    let third_line = |program: &Path| {
        let out = Command::new(program)
            .args(["-sf", "999999", "abc"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stderr).into_owned();
        let line = text.lines().nth(2).unwrap_or("").to_owned();
        (
            out.status.code(),
            line.split_once(" : ").map(|(_, m)| m.to_owned()),
        )
    };
    assert_eq!(third_line(&ours("haproxy")), third_line(Path::new(HAPROXY)));
    // --help: the same text on stderr, exit 0.
    let help = |p: &Path| {
        let out = Command::new(p).arg("--help").output().unwrap();
        let text = String::from_utf8_lossy(&out.stderr).into_owned();
        // The first line names argv[0].
        let text = text.replace(&p.display().to_string(), "ARGV0");
        (out.status.code(), out.stdout.len(), text)
    };
    assert_eq!(help(&ours("keepalived")), help(Path::new(KEEPALIVED)));
    // --signum's answers.
    for name in ["STOP", "RELOAD", "DATA", "STATS", "STATS_CLEAR", "JSON"] {
        let arg = format!("--signum={name}");
        let run = |p: &Path| Command::new(p).arg(&arg).output().unwrap().stdout;
        assert_eq!(
            run(&ours("keepalived")),
            run(Path::new(KEEPALIVED)),
            "{arg}"
        );
    }
}

const KEEPALIVED_CONF: &str = "vrrp_instance VI_1 {
    state BACKUP
    interface d0
    virtual_router_id 51
    priority 100
    advert_int 1
    virtual_ipaddress {
        10.9.0.99/32
    }
}
";

#[derive(Debug, PartialEq)]
struct KeepalivedDaemon {
    parent_status: Option<i32>,
    main_pidfile: PidFileFacts,
    vrrp_pidfile: PidFileFacts,
    /// A second start with the same pid files: exit status (keepalived: 0, "daemon is
    /// already running").
    second_status: Option<i32>,
    /// Both files gone within 5 s of SIGTERM to the main pid.
    pidfiles_removed_at_stop: bool,
}

fn keepalived_daemon(program: &Path) -> KeepalivedDaemon {
    let lab = Lab::new();
    let conf = lab.path("k.conf");
    std::fs::write(&conf, KEEPALIVED_CONF).unwrap();
    let (main, vrrp) = (lab.path("k.pid"), lab.path("v.pid"));
    let args_owned = [
        "-f".to_owned(),
        conf.display().to_string(),
        "-p".to_owned(),
        main.display().to_string(),
        "-r".to_owned(),
        vrrp.display().to_string(),
    ];
    let args: Vec<&str> = args_owned.iter().map(String::as_str).collect();
    let first = lab.run(program, &args);
    assert!(
        wait_until(Duration::from_secs(5), || main.exists() && vrrp.exists()),
        "{}: no pid files",
        program.display()
    );
    // Let the daemon finish starting (its VRRP side writes the -r file).
    std::thread::sleep(Duration::from_millis(300));
    let (main_pid, main_pidfile) = pidfile_facts(&main);
    let (_, mut vrrp_pidfile) = pidfile_facts(&vrrp);
    // keepalived's VRRP child is not a session leader (its parent is): compare what
    // matters for the file, the process named.
    vrrp_pidfile.session_leader = false;
    let mut second_args = vec!["-n"];
    second_args.extend(&args);
    let second = lab.run(program, &second_args);
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(main_pid),
        nix::sys::signal::Signal::SIGTERM,
    );
    let pidfiles_removed_at_stop =
        wait_until(Duration::from_secs(5), || !main.exists() && !vrrp.exists());
    KeepalivedDaemon {
        parent_status: first.status.code(),
        main_pidfile,
        vrrp_pidfile,
        second_status: second.status.code(),
        pidfiles_removed_at_stop,
    }
}

#[test]
fn keepalived_daemon_and_pidfiles_as_the_reference() {
    if !can_run("keepalived_daemon_and_pidfiles_as_the_reference") {
        return;
    }
    let reference = keepalived_daemon(Path::new(KEEPALIVED));
    assert_eq!(reference.main_pidfile.comm, "keepalived", "{reference:?}");
    assert!(reference.main_pidfile.session_leader, "{reference:?}");
    assert!(reference.pidfiles_removed_at_stop, "{reference:?}");
    let ours = keepalived_daemon(&ours("keepalived"));
    assert_eq!(ours, reference);
}

/// `-Ws -p F`: the READY=1 datagram systemd waits for (Type=notify), with MAINPID the
/// pid the pid file holds; and `-st OLD` ends the old process.
fn haproxy_ws_and_st(program: &Path) -> (String, String, bool) {
    use std::os::unix::net::UnixDatagram;
    let lab = Lab::new();
    let cfg = lab.path("h.cfg");
    std::fs::write(&cfg, HAPROXY_CFG).unwrap();
    let pid_path = lab.path("ws.pid");
    let notify_path = lab.path("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut child = Command::new("ip")
        .args(["netns", "exec", &lab.ns])
        .arg(program)
        .args(["-Ws", "-p"])
        .arg(&pid_path)
        .arg("-f")
        .arg(&cfg)
        .env("NOTIFY_SOCKET", &notify_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    let mut buf = [0u8; 512];
    while let Ok(n) = notify.recv(&mut buf) {
        let message = String::from_utf8_lossy(&buf[..n]).into_owned();
        if message.starts_with("READY=1") {
            ready = message;
            break;
        }
    }
    let main_pid = std::fs::read_to_string(&pid_path).unwrap_or_default();
    let main_pid = main_pid.trim().to_owned();
    // A second, foreground one terminates the first with -st.
    let old: i32 = main_pid.parse().unwrap_or(0);
    let mut second = Command::new("ip")
        .args(["netns", "exec", &lab.ns])
        .arg(program)
        .args(["-db", "-f"])
        .arg(&cfg)
        .args(["-st", &main_pid])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let old_gone = old > 0 && wait_until(Duration::from_secs(5), || !alive(old));
    let _ = second.kill();
    let _ = second.wait();
    let _ = child.kill();
    let _ = child.wait();
    (ready, main_pid, old_gone)
}

#[test]
fn haproxy_ws_notifies_systemd_and_st_terminates_as_the_reference() {
    if !can_run("haproxy_ws_notifies_systemd_and_st_terminates_as_the_reference") {
        return;
    }
    for program in [PathBuf::from(HAPROXY), ours("haproxy")] {
        let (ready, main_pid, old_gone) = haproxy_ws_and_st(&program);
        // Measured with 2.6.12: "READY=1\nMAINPID=<master pid>", the pid in the -p file.
        assert_eq!(
            ready,
            format!("READY=1\nMAINPID={main_pid}"),
            "{}",
            program.display()
        );
        assert!(
            old_gone,
            "{}: -st did not end the old process",
            program.display()
        );
    }
}

fn children_of(pid: i32) -> Vec<(i32, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
        let Some((_, after)) = stat.rsplit_once(") ") else {
            continue;
        };
        let mut fields = after.split(' ');
        let state = fields.next().unwrap_or("");
        let ppid: i32 = fields.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        if ppid == pid && state != "Z" {
            let comm = std::fs::read_to_string(format!("/proc/{child}/comm")).unwrap_or_default();
            out.push((child, comm.trim_end().to_owned()));
        }
    }
    out
}

/// `-W -p F`: the process tree, a SIGUSR2 reload, SIGTERM.
#[derive(Debug, PartialEq)]
struct MasterWorkerRun {
    master_comm: String,
    /// The master's children's names, before and after the reload.
    workers: Vec<String>,
    workers_after_reload: Vec<String>,
    /// The worker after the reload is a new process, the old one has gone.
    reload_replaced_worker: bool,
    listening_after_reload: bool,
    master_status_after_sigterm: Option<i32>,
}

fn haproxy_master_worker(program: &Path) -> MasterWorkerRun {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    let lab = Lab::new();
    let cfg = lab.path("h.cfg");
    std::fs::write(&cfg, HAPROXY_CFG).unwrap();
    let pid_path = lab.path("w.pid");
    let mut master = Command::new("ip")
        .args(["netns", "exec", &lab.ns])
        .arg(program)
        .args(["-W", "-p"])
        .arg(&pid_path)
        .arg("-f")
        .arg(&cfg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let listening = || {
        Command::new("ip")
            .args(["netns", "exec", &lab.ns, "ss", "-Hltn", "sport = :8001"])
            .output()
            .is_ok_and(|o| !o.stdout.is_empty())
    };
    assert!(
        wait_until(Duration::from_secs(5), listening),
        "{}",
        program.display()
    );
    let master_pid: i32 = std::fs::read_to_string(&pid_path)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // `ip netns exec` execs: the child we spawned is the master.
    assert_eq!(master_pid, i32::try_from(master.id()).unwrap());
    let master_comm = std::fs::read_to_string(format!("/proc/{master_pid}/comm"))
        .unwrap()
        .trim_end()
        .to_owned();
    let before = children_of(master_pid);
    let old: Vec<i32> = before.iter().map(|(p, _)| *p).collect();
    // haproxy 2.6.12's master ignores a SIGUSR2 that comes while it is still starting
    // (its worker already listens): under load one signal was lost in 3 runs out of 5.
    // So the reload is asked again until the worker is replaced, for both.
    let reload_replaced_worker = (0..5).any(|_| {
        kill(Pid::from_raw(master_pid), Signal::SIGUSR2).unwrap();
        wait_until(Duration::from_secs(2), || {
            let now = children_of(master_pid);
            !now.is_empty() && now.iter().all(|(p, _)| !old.contains(p))
        })
    });
    let listening_after_reload = listening();
    let after = children_of(master_pid);
    kill(Pid::from_raw(master_pid), Signal::SIGTERM).unwrap();
    let status = master.wait().unwrap();
    MasterWorkerRun {
        master_comm,
        workers: before.into_iter().map(|(_, c)| c).collect(),
        workers_after_reload: after.into_iter().map(|(_, c)| c).collect(),
        reload_replaced_worker,
        listening_after_reload,
        master_status_after_sigterm: status.code(),
    }
}

#[test]
fn haproxy_master_worker_reloads_and_stops_as_the_reference() {
    if !can_run("haproxy_master_worker_reloads_and_stops_as_the_reference") {
        return;
    }
    let reference = haproxy_master_worker(Path::new(HAPROXY));
    assert_eq!(
        reference.workers,
        vec!["haproxy".to_owned()],
        "{reference:?}"
    );
    assert!(reference.reload_replaced_worker, "{reference:?}");
    let ours = haproxy_master_worker(&ours("haproxy"));
    assert_eq!(ours, reference);
}

/// The master's own stderr lines (its pid only: the workers' lines interleave with them
/// as the processes run), pid, version and executable path masked.
fn master_lines(stderr: &str, master: i32) -> Vec<String> {
    let own = format!("({master}) : ");
    stderr
        .lines()
        .filter(|l| l.contains(&own))
        .map(|l| {
            let l = l.replace(&own, "(MASTER) : ");
            // Other pids in the text (workers): masked.
            let mut out = String::new();
            for (i, part) in l.split('(').enumerate() {
                if i > 0 {
                    out.push('(');
                }
                match part.split_once(')') {
                    Some((n, rest)) if n.parse::<u32>().is_ok() => {
                        out.push_str("PID)");
                        out.push_str(rest);
                    }
                    _ => out.push_str(part),
                }
            }
            if out.contains("haproxy version is ") {
                "(version notice)".to_owned()
            } else if out.contains("path to executable is ") {
                "(path notice)".to_owned()
            } else {
                out
            }
        })
        .collect()
}

/// `haproxy -W -db -f CFG`: started, SIGUSR2 (valid file), SIGUSR2 with a file that does
/// not load, SIGHUP with the file fixed, SIGTERM. The master's lines, in order.
fn haproxy_master_reload_lines(program: &Path) -> Vec<String> {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    let lab = Lab::new();
    let cfg = lab.path("h.cfg");
    std::fs::write(&cfg, HAPROXY_CFG).unwrap();
    let stderr_path = lab.path("master.err");
    let mut master = Command::new("ip")
        .args(["netns", "exec", &lab.ns])
        .arg(program)
        .args(["-W", "-db", "-f"])
        .arg(&cfg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let pid = i32::try_from(master.id()).unwrap();
    let stderr = || std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let count = |what: &str| stderr().matches(what).count();
    let signal = |s: Signal| kill(Pid::from_raw(pid), s).unwrap();
    assert!(wait_until(Duration::from_secs(5), || count(
        "Loading success."
    ) == 1));
    // haproxy 2.6.12's master misses a signal that comes while it (re)starts, its
    // worker already serving (see `haproxy_master_worker`): each reload is asked again
    // until the master says it reloads.
    let reload = |s: Signal, reloads: usize| {
        let asked = (0..5).any(|_| {
            signal(s);
            wait_until(Duration::from_secs(2), || {
                count("Reloading HAProxy") == reloads
            })
        });
        assert!(asked, "{}", stderr());
    };
    reload(Signal::SIGUSR2, 1);
    assert!(
        wait_until(Duration::from_secs(5), || count("Former worker") == 1),
        "{}",
        stderr()
    );
    std::fs::write(&cfg, format!("{HAPROXY_CFG}    no-such-keyword here\n")).unwrap();
    reload(Signal::SIGUSR2, 2);
    assert!(
        wait_until(Duration::from_secs(5), || count("Loading failure!") == 1),
        "{}",
        stderr()
    );
    std::fs::write(&cfg, HAPROXY_CFG).unwrap();
    reload(Signal::SIGHUP, 3);
    assert!(
        wait_until(Duration::from_secs(5), || count("Former worker") == 2),
        "{}",
        stderr()
    );
    signal(Signal::SIGTERM);
    let _ = master.wait();
    master_lines(&stderr(), pid)
}

#[test]
fn haproxy_master_reloads_print_what_the_reference_prints() {
    if !can_run("haproxy_master_reloads_print_what_the_reference_prints") {
        return;
    }
    let reference = haproxy_master_reload_lines(Path::new(HAPROXY));
    // The story happened on the reference: the invalid file refused by the master itself.
    assert!(
        reference
            .iter()
            .any(|l| l.contains("[ALERT]    (MASTER) : config : parsing [")),
        "{reference:#?}"
    );
    let ours = haproxy_master_reload_lines(&ours("haproxy"));
    // The file's path is the lab's own: the same in both but for the lab's number.
    let unlab = |lines: Vec<String>| -> Vec<String> {
        lines
            .into_iter()
            .map(|l| match l.find("hacflags-") {
                Some(at) => {
                    let end = l[at..].find('/').map_or(l.len(), |e| at + e);
                    format!("{}LAB{}", &l[..at], &l[end..])
                }
                None => l,
            })
            .collect()
    };
    assert_eq!(unlab(ours), unlab(reference));
}
