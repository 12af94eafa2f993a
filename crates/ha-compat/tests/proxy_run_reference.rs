//! `haproxy -db -f FILE` against the real HAProxy 2.6.12: the same configuration and the
//! same events are played to `/usr/sbin/haproxy` and to ha-compat invoked as `haproxy` (a
//! symlink to the test's binary), one after the other, each in a network namespace
//! `haprun-PID-N` the test creates (loopback only, deleted by a drop guard, also on panic).
//!
//! The story: web1 answers, web2 and the backup web3 are dead; four client connections;
//! web1 dies; web2 comes up; SIGTERM. What must match, line for line: stderr (the
//! `[WARNING]`/`[ALERT]` server state lines, pid masked), the log lines on stdout (`log
//! stdout format raw`: the state lines and the tcplog lines, with dates, client ports and
//! timers masked), what the clients received, and the exit status.
//!
//! Needs root and haproxy (`apt-get install -y haproxy`); skipped with a message otherwise.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

use std::io::Read;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

mod common;

use common::{can_run, sleep_ms, AfterGreeting, Daemon, Ns, Web, HAPROXY};

const CFG: &str = "\
global
    log stdout format raw local0
defaults
    mode tcp
    log global
    option tcplog
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:8080
    default_backend be
backend be
    balance roundrobin
    server web1 127.0.0.1:9001 check inter 300 fall 2 rise 2
    server web2 127.0.0.1:9002 check inter 300 fall 2 rise 2
    server web3 127.0.0.1:9003 check inter 300 backup
";

/// One client connection through the frontend: what it received.
fn client(ns: &Ns) -> String {
    ns.spawn(|| {
        let mut s = TcpStream::connect("127.0.0.1:8080").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let mut got = String::new();
        let _ = s.read_to_string(&mut got);
        got
    })
    .join()
    .unwrap()
}

/// What one daemon did.
#[derive(Debug, PartialEq)]
struct Observed {
    stderr: Vec<String>,
    logs: Vec<String>,
    received: Vec<String>,
    status: Option<String>,
}

/// Masks what legitimately differs: pids, dates, client ports, timers, version banners.
fn mask(line: &str) -> String {
    let mut words: Vec<String> = line.split(' ').map(str::to_owned).collect();
    for w in &mut words {
        if w.starts_with('(') && w.ends_with(')') && w[1..w.len() - 1].parse::<u32>().is_ok() {
            *w = "(PID)".into();
        } else if w.starts_with('[') && w.ends_with(']') && w.contains('/') && w.contains(':') {
            *w = "[DATE]".into();
        } else if let Some((ip, port)) = w.rsplit_once(':') {
            if ip == "127.0.0.1" && port.parse::<u16>().is_ok() && port != "8080" {
                *w = "127.0.0.1:PORT".into();
            }
        }
    }
    // tcplog: `... be/web1 Tw/Tc/Tt bytes ...`: the timers vary.
    let tcplog = line.starts_with("127.0.0.1:");
    if let Some(i) = words.iter().position(|w| tcplog && w.starts_with("be/")) {
        if let Some(t) = words.get_mut(i + 1) {
            *t = "Tw/Tc/Tt".into();
        }
    }
    let line = words.join(" ");
    // "check duration: 0ms" / "1ms": timing.
    match line.find("check duration: ") {
        Some(at) => {
            let rest = &line[at + 16..];
            let end = rest.find("ms").unwrap_or(0);
            format!("{}check duration: Nms{}", &line[..at], &rest[end + 2..])
        }
        None => line,
    }
}

fn play(program: &Path, dir: &Path, stop: nix::sys::signal::Signal) -> Observed {
    let ns = Ns::new("haprun");
    let cfg = dir.join("haproxy.cfg");
    std::fs::write(&cfg, CFG).unwrap();
    let web1 = Web::start(&ns, 9001, "web1", AfterGreeting::Close);
    let stdout = dir.join(format!("{}.out", ns.0));
    let stderr = dir.join(format!("{}.err", ns.0));
    let mut daemon = Daemon(
        Command::new("ip")
            .args(["netns", "exec", &ns.0])
            .arg(program)
            .args(["-db", "-f"])
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap(),
    );
    // Checks every 300 ms: web2 and web3 are down after their first check.
    sleep_ms(1500);
    // One after the other, 100 ms apart: a session's line samples the connection counts
    // when it ends, and the next client must not be racing it.
    let mut received: Vec<String> = (0..4)
        .map(|_| {
            let got = client(&ns);
            sleep_ms(100);
            got
        })
        .collect();
    sleep_ms(300);
    drop(web1);
    // fall 2: two failed checks, 300 ms apart.
    sleep_ms(1500);
    received.push(client(&ns));
    let web2 = Web::start(&ns, 9002, "web2", AfterGreeting::Close);
    // rise 2.
    sleep_ms(1500);
    received.push(client(&ns));
    sleep_ms(300);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(daemon.0.id() as i32), stop).unwrap();
    let mut status = None;
    for _ in 0..100 {
        if let Ok(Some(s)) = daemon.0.try_wait() {
            use std::os::unix::process::ExitStatusExt;
            status = Some(s.code().map_or_else(
                || format!("killed by signal {}", s.signal().unwrap_or(0)),
                |c| format!("exit {c}"),
            ));
            break;
        }
        sleep_ms(20);
    }
    drop(web2);
    let read = |p: &PathBuf| -> Vec<String> {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .filter(|l| !l.contains("[NOTICE]"))
            .map(mask)
            .collect()
    };
    Observed {
        stderr: read(&stderr),
        logs: read(&stdout),
        received,
        status,
    }
}

fn compare(stop: nix::sys::signal::Signal) -> (Observed, Observed) {
    let dir = std::env::temp_dir().join(format!("haprun-{}-{stop:?}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let link = dir.join("haproxy");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_ha-compat"), &link).unwrap();
    let reference = play(Path::new(HAPROXY), &dir, stop);
    let ours = play(&link, &dir, stop);
    let _ = std::fs::remove_dir_all(&dir);
    // The story happened on the reference as planned (else the comparison proves little).
    assert!(
        reference
            .stderr
            .iter()
            .any(|l| l.contains("Server be/web1 is DOWN")),
        "{reference:#?}"
    );
    assert!(
        reference
            .stderr
            .iter()
            .any(|l| l.contains("Server be/web2 is UP")),
        "{reference:#?}"
    );
    assert_eq!(ours.received, reference.received, "what the clients got");
    assert_eq!(ours.stderr, reference.stderr, "stderr");
    assert_eq!(ours.logs, reference.logs, "log lines");
    assert_eq!(ours.status, reference.status, "exit status after {stop:?}");
    (reference, ours)
}

/// SIGTERM: HAProxy 2.6 without master-worker keeps the default action (killed).
#[test]
fn haproxy_db_runs_like_haproxy_2_6_until_sigterm() {
    if can_run("proxy_run_reference") {
        let (reference, _) = compare(nix::sys::signal::Signal::SIGTERM);
        assert_eq!(reference.status.as_deref(), Some("killed by signal 15"));
    }
}

/// SIGUSR1: soft stop, `Proxy X stopped (cumulated conns: ...)` for every proxy, exit 0.
#[test]
fn haproxy_db_soft_stops_like_haproxy_2_6_on_sigusr1() {
    if can_run("proxy_run_reference") {
        let (reference, _) = compare(nix::sys::signal::Signal::SIGUSR1);
        assert!(
            reference
                .stderr
                .iter()
                .any(|l| l.ends_with("Proxy fe stopped (cumulated conns: FE: 6, BE: 0).")),
            "{reference:#?}"
        );
        assert_eq!(reference.status.as_deref(), Some("exit 0"));
    }
}
