//! Server state across reloads (`server-state-file`, `load-server-state-from-file`)
//! against the real HAProxy 2.6.12: the same configuration is run by `/usr/sbin/haproxy`
//! and by ha-compat invoked as `haproxy`, each in a network namespace `hacss-PID-N` of
//! its own (loopback only, deleted by a drop guard).
//!
//! - `states_survive_a_restart_like_haproxy_2_6`: s2 put in maintenance, s3 in drain and
//!   s1's weight changed through the stats socket, s4 down by its check; `show servers
//!   state` saved to the state file (the operator's recipe), the process restarted. What
//!   must match after the restart: `show servers state` (all but
//!   `srv_time_since_last_change`), `show stat`'s status and weight columns, who answers
//!   six connections through the frontend (s1 only, on both), and the
//!   lines printed at start (pid masked, in order); the saved files too.
//! - `states_survive_a_master_reload_like_haproxy_2_6`: the same under `-W`, the state
//!   file saved then the master sent SIGUSR2: the new worker's `show servers state` and
//!   `show stat`, and the server lines on stderr (pids masked), match.
//! - `bad_state_files_warn_like_haproxy_2_6`: `haproxy -c` with a missing file, an empty
//!   one, a bad version, a corrupted line, invalid values, lines of other backends, the
//!   `local` mode's name/id mismatches and unknown servers: the same stderr lines (pid
//!   masked) and exit status.
//! - `keyword_arguments_are_checked_like_haproxy_2_6`: `load-server-state-from-file`
//!   with a bad or no argument, `server-state-file-name` with two, both in a frontend:
//!   the same `-c` lines and exit status.
//!
//! Needs root, haproxy and socat; skipped with a message otherwise.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

mod common;

use common::{can_run, has_socat, sleep_ms, socat, AfterGreeting, Daemon, Ns, Web, HAPROXY};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

const CFG: &str = "\
global
    server-state-file DIR/state
    stats socket DIR/admin.sock mode 600 level admin
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    load-server-state-from-file global
frontend fe
    bind 127.0.0.1:8080
    default_backend be
backend be
    balance roundrobin
    server s1 127.0.0.1:8001
    server s2 127.0.0.1:8002
    server s3 127.0.0.1:8003
    server s4 127.0.0.1:8004 check inter 200 fall 1
    server s5 127.0.0.1:8005 backup
backend other
    load-server-state-from-file none
    server o1 127.0.0.1:8011
";

/// Stderr lines without the pid, the version notices and ha-compat's own notes.
fn stderr_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.contains("ha-compat") && !l.contains("haproxy version is"))
        .filter(|l| !l.contains("path to executable is"))
        .map(|l| match l.split_once(") : ") {
            Some((label, rest)) => {
                format!("{} {rest}", label.split('(').next().unwrap_or("").trim())
            }
            None => l.to_string(),
        })
        .collect()
}

/// `show servers state` with `srv_time_since_last_change` masked.
fn state_view(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| {
            let mut w: Vec<&str> = l.split(' ').collect();
            if !l.starts_with('#') && w.len() > 9 {
                w[9] = "*";
            }
            w.join(" ")
        })
        .collect()
}

/// `show stat`: proxy, server, status, weight.
fn stat_view(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            if c.len() > 18 {
                format!("{},{},{},{}", c[0], c[1], c[17], c[18])
            } else {
                l.to_string()
            }
        })
        .collect()
}

struct Run {
    /// The file the first process's `show servers state` was saved to.
    saved: String,
    state: String,
    stat: String,
    first_stderr: Vec<String>,
    stderr: Vec<String>,
    /// Which server answered each of six connections through `fe` after the restart.
    answers: Vec<String>,
}

fn masked(lines: Vec<String>, dir: &Path) -> Vec<String> {
    let dir = dir.display().to_string();
    lines.into_iter().map(|l| l.replace(&dir, "DIR")).collect()
}

fn wait_for_socket(path: &Path) {
    for _ in 0..100 {
        if UnixStream::connect(path).is_ok() {
            return;
        }
        sleep_ms(50);
    }
}

fn run(program: &Path, dir: &Path) -> Run {
    let ns = Ns::new("hacss");
    let _webs: Vec<Web> = [(8001, "s1"), (8002, "s2"), (8003, "s3"), (8005, "s5")]
        .into_iter()
        .map(|(port, name)| Web::start(&ns, port, name, AfterGreeting::Close))
        .collect();
    let cfg = dir.join("h.cfg");
    std::fs::write(&cfg, CFG.replace("DIR", &dir.display().to_string())).unwrap();
    let admin = dir.join("admin.sock");
    let first_err = dir.join("stderr1");
    let first = Daemon::haproxy_db(
        &ns,
        program,
        &cfg,
        Stdio::null(),
        Stdio::from(std::fs::File::create(&first_err).unwrap()),
    );
    wait_for_socket(&admin);
    // s4's first check has failed (nothing listens on 8004).
    sleep_ms(1000);
    for command in [
        "set server be/s2 state maint",
        "set server be/s3 state drain",
        "set weight be/s1 7",
    ] {
        socat(&admin, command);
    }
    let saved = socat(&admin, "show servers state");
    std::fs::write(dir.join("state"), &saved).unwrap();
    drop(first);
    let _ = std::fs::remove_file(&admin);

    let err = dir.join("stderr2");
    let second = Daemon::haproxy_db(
        &ns,
        program,
        &cfg,
        Stdio::null(),
        Stdio::from(std::fs::File::create(&err).unwrap()),
    );
    wait_for_socket(&admin);
    // Long enough for s4's checks to have run again (it stays down).
    sleep_ms(1000);
    let state = socat(&admin, "show servers state");
    let stat = socat(&admin, "show stat");
    let answers = ns
        .spawn(|| {
            (0..6)
                .map(|_| {
                    let mut s = std::net::TcpStream::connect("127.0.0.1:8080").unwrap();
                    s.set_read_timeout(Some(std::time::Duration::from_secs(3)))
                        .unwrap();
                    let mut out = String::new();
                    let _ = std::io::Read::read_to_string(&mut s, &mut out);
                    out.trim().to_string()
                })
                .collect()
        })
        .join()
        .unwrap();
    drop(second);
    Run {
        answers,
        saved,
        state,
        stat,
        first_stderr: masked(stderr_lines(&first_err), dir),
        stderr: masked(stderr_lines(&err), dir),
    }
}

fn dirs(name: &str) -> (PathBuf, PathBuf, PathBuf) {
    let base =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let ref_dir = base.join("ref");
    let ours_dir = base.join("ours");
    std::fs::create_dir_all(&ref_dir).unwrap();
    std::fs::create_dir_all(&ours_dir).unwrap();
    let link = ours_dir.join("haproxy");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_ha-compat"), &link).unwrap();
    (ref_dir, ours_dir, link)
}

#[test]
fn states_survive_a_restart_like_haproxy_2_6() {
    if !can_run("server_state_reference") || !has_socat("server_state_reference") {
        return;
    }
    let (ref_dir, ours_dir, link) = dirs("hacss");
    let reference = run(Path::new(HAPROXY), &ref_dir);
    let ours = run(&link, &ours_dir);
    assert_eq!(
        state_view(&reference.saved),
        state_view(&ours.saved),
        "the saved state files"
    );
    assert_eq!(
        reference.first_stderr, ours.first_stderr,
        "stderr of the first run"
    );
    assert_eq!(
        state_view(&reference.state),
        state_view(&ours.state),
        "show servers state after the restart"
    );
    assert_eq!(
        stat_view(&reference.stat),
        stat_view(&ours.stat),
        "show stat after the restart"
    );
    assert_eq!(reference.stderr, ours.stderr, "stderr after the restart");
    // Traffic: s2 in maintenance, s3 drained, s4 down: s1 takes every connection.
    assert_eq!(reference.answers, vec!["s1"; 6]);
    assert_eq!(
        ours.answers, reference.answers,
        "who answered after the restart"
    );
    // What the reference says, so that the comparison is not vacuous.
    let stat = stat_view(&reference.stat).join("\n");
    for row in [
        "be,s1,no check,7",
        "be,s2,MAINT,1",
        "be,s3,DRAIN,1",
        "be,s4,DOWN,1",
    ] {
        assert!(stat.contains(row), "{row} in\n{stat}");
    }
    assert!(reference
        .stderr
        .iter()
        .any(|l| l.contains("Server be/s2 is DOWN, changed from server-state after a reload")));
}

/// `-W`: state changes, the file saved, SIGUSR2 to the master, the new worker read.
fn run_master(program: &Path, dir: &Path) -> Run {
    let ns = Ns::new("hacss");
    let cfg = dir.join("h.cfg");
    std::fs::write(&cfg, CFG.replace("DIR", &dir.display().to_string())).unwrap();
    let admin = dir.join("admin.sock");
    let err = dir.join("stderr");
    let master = Daemon(
        Command::new("ip")
            .args(["netns", "exec", &ns.0])
            .arg(program)
            .args(["-W", "-db", "-f"])
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap(),
    );
    wait_for_socket(&admin);
    sleep_ms(1000);
    for command in [
        "set server be/s2 state maint",
        "set server be/s3 state drain",
        "set weight be/s1 7",
    ] {
        socat(&admin, command);
    }
    let saved = socat(&admin, "show servers state");
    std::fs::write(dir.join("state"), &saved).unwrap();
    kill(Pid::from_raw(master.0.id() as i32), Signal::SIGUSR2).unwrap();
    // The new worker has started, read the file and run s4's checks again.
    sleep_ms(2000);
    let state = socat(&admin, "show servers state");
    let stat = socat(&admin, "show stat");
    drop(master);
    // The server lines only (the master's own lines are compared by flags_reference),
    // pids masked.
    let lines: Vec<String> = masked(stderr_lines(&err), dir)
        .into_iter()
        .filter(|l| l.contains("Server be/") || l.contains("server state"))
        .collect();
    Run {
        saved,
        state,
        stat,
        first_stderr: Vec::new(),
        stderr: lines,
        answers: Vec::new(),
    }
}

#[test]
fn states_survive_a_master_reload_like_haproxy_2_6() {
    if !can_run("server_state_reference") || !has_socat("server_state_reference") {
        return;
    }
    let (ref_dir, ours_dir, link) = dirs("hacssw");
    let reference = run_master(Path::new(HAPROXY), &ref_dir);
    let ours = run_master(&link, &ours_dir);
    assert_eq!(state_view(&reference.saved), state_view(&ours.saved));
    assert_eq!(
        state_view(&reference.state),
        state_view(&ours.state),
        "show servers state after the reload"
    );
    assert_eq!(
        stat_view(&reference.stat),
        stat_view(&ours.stat),
        "show stat after the reload"
    );
    assert_eq!(reference.stderr, ours.stderr, "server lines");
    let stat = stat_view(&reference.stat).join("\n");
    assert!(stat.contains("be,s2,MAINT,1"), "{stat}");
    assert!(
        reference
            .stderr
            .iter()
            .any(|l| l.contains("changed from server-state after a reload")),
        "{:?}",
        reference.stderr
    );
}

/// A configuration whose `be` reads `state` (global) or `be` (local, under the base).
fn check_cfg(dir: &Path, local: bool) -> String {
    let mode = if local { "local" } else { "global" };
    format!(
        "global\n    server-state-base {dir}/\n    server-state-file state\n\
         defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n\
         backend be\n    load-server-state-from-file {mode}\n    server s1 127.0.0.1:8001\n    \
         server s2 127.0.0.1:8002 check\n    server s3 127.0.0.1:8003 weight 0\n",
        dir = dir.display()
    )
}

const ROW: &str = "2 be 1 s1 127.0.0.1 2 0 5 1 10 1 0 2 0 0 0 0 - 8001 - 0 0 - - 0";

/// (name, local mode, file contents or `None` for no file).
fn cases() -> Vec<(&'static str, bool, Option<String>)> {
    let row = |be_id: &str, be: &str, srv: &str, rest: &str| {
        format!("{be_id} {be} 1 {srv} 127.0.0.1 {rest}")
    };
    vec![
        ("missing", false, None),
        ("empty", false, Some(String::new())),
        ("version 2", false, Some("2\n".into())),
        ("no newline", false, Some(format!("1\n{ROW}"))),
        (
            "corrupted",
            false,
            Some(format!("1\n# c\n\n{ROW}\nshort\n")),
        ),
        ("valid", false, Some(format!("1\n# c\n{ROW}\n"))),
        (
            "invalid values",
            false,
            Some(format!(
                "1\n{}\n{}\n",
                row(
                    "2",
                    "be",
                    "s1",
                    "9 x 300 1 -1 21 5 2 64 0 2 0 a!b 99999 - 0 0 - - 0"
                ),
                row(
                    "2",
                    "be",
                    "s2",
                    "0 1 1 1 0 8 2 0 6 0 0 0 - 8002 - 0 0 - - 0"
                )
            )),
        ),
        (
            "other backends and duplicates",
            false,
            Some(format!(
                "1\n{}\n{}\n{}\n{}\n",
                row(
                    "2",
                    "nobe",
                    "s1",
                    "0 1 1 1 0 1 0 0 0 0 0 0 - 8001 - 0 0 - - 0"
                ),
                row(
                    "2",
                    "be",
                    "zz",
                    "0 1 1 1 0 1 0 0 0 0 0 0 - 8001 - 0 0 - - 0"
                ),
                row(
                    "2",
                    "be",
                    "s3",
                    "2 8 1 0 0 1 0 2 0 0 0 0 - 8003 - 0 0 - - 0"
                ),
                row(
                    "2",
                    "be",
                    "s3",
                    "0 1 1 0 0 1 0 0 0 0 0 0 - 8003 - 0 0 - - 0"
                ),
            )),
        ),
        ("local missing", true, None),
        (
            "local mismatches",
            true,
            Some(format!(
                "1\n{}\n{}\n{}\n{}\n{}\n",
                row(
                    "1",
                    "bx",
                    "s1",
                    "0 1 1 1 0 1 0 0 0 0 0 0 - 8001 - 0 0 - - 0"
                ),
                row(
                    "7",
                    "be",
                    "s2",
                    "0 0 1 1 0 8 2 0 6 0 0 0 - 8002 - 0 0 - - 0"
                ),
                row(
                    "7",
                    "bz",
                    "s1",
                    "0 1 1 1 0 1 0 0 0 0 0 0 - 8001 - 0 0 - - 0"
                ),
                row(
                    "1",
                    "be",
                    "zz",
                    "0 1 1 1 0 1 0 0 0 0 0 0 - 8001 - 0 0 - - 0"
                ),
                row(
                    "1",
                    "bq",
                    "s3",
                    "0 1 1 1 0 1 0 0 0 0 1 0 - 8001 - 0 0 - - 0"
                ),
            )),
        ),
        ("local version", true, Some("x\n".into())),
    ]
}

fn check(program: &Path, dir: &Path, local: bool, file: Option<&str>) -> (Vec<String>, i32) {
    let cfg = dir.join("h.cfg");
    std::fs::write(&cfg, check_cfg(dir, local)).unwrap();
    let state = dir.join(if local { "be" } else { "state" });
    let _ = std::fs::remove_file(dir.join("state"));
    let _ = std::fs::remove_file(dir.join("be"));
    if let Some(text) = file {
        std::fs::write(&state, text).unwrap();
    }
    let err = dir.join("stderr");
    let status = Command::new(program)
        .args(["-c", "-f"])
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(&err).unwrap()))
        .status()
        .unwrap();
    (stderr_lines(&err), status.code().unwrap_or(-1))
}

#[test]
fn bad_state_files_warn_like_haproxy_2_6() {
    if !can_run("server_state_reference") {
        return;
    }
    let (ref_dir, ours_dir, link) = dirs("hacssc");
    for (name, local, file) in cases() {
        let reference = check(Path::new(HAPROXY), &ref_dir, local, file.as_deref());
        let ours = check(&link, &ours_dir, local, file.as_deref());
        assert_eq!(
            (masked(reference.0.clone(), &ref_dir), reference.1),
            (masked(ours.0, &ours_dir), ours.1),
            "case {name:?}"
        );
        assert!(
            name == "valid" || !reference.0.is_empty(),
            "case {name:?}: the reference warned"
        );
    }
}

#[test]
fn keyword_arguments_are_checked_like_haproxy_2_6() {
    if !can_run("server_state_reference") {
        return;
    }
    let (ref_dir, ours_dir, link) = dirs("hacssk");
    let base = "defaults\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n";
    for body in [
        "backend be\n    load-server-state-from-file foo\n    server s1 127.0.0.1:1\n",
        "backend be\n    load-server-state-from-file\n    server s1 127.0.0.1:1\n",
        "backend be\n    load-server-state-from-file local x\n    server s1 127.0.0.1:1\n",
        "backend be\n    server-state-file-name a b\n    server s1 127.0.0.1:1\n",
        "frontend fe\n    bind 127.0.0.1:1\n    load-server-state-from-file local\n    server-state-file-name x\n",
    ] {
        let run = |program: &Path, dir: &Path| {
            let cfg = dir.join("k.cfg");
            std::fs::write(&cfg, format!("{base}{body}")).unwrap();
            let err = dir.join("stderr");
            let status = Command::new(program)
                .args(["-c", "-f"])
                .arg(&cfg)
                .stdout(Stdio::null())
                .stderr(Stdio::from(std::fs::File::create(&err).unwrap()))
                .status()
                .unwrap();
            (masked(stderr_lines(&err), dir), status.code())
        };
        let reference = run(Path::new(HAPROXY), &ref_dir);
        assert!(!reference.0.is_empty(), "{body}");
        assert_eq!(reference, run(&link, &ours_dir), "{body}");
    }
}
