//! The backend and server queues (`maxconn`, `maxqueue`, `timeout queue`) of
//! `haproxy -db -f FILE` against the real HAProxy 2.6.12: the same configuration and the
//! same story are played to `/usr/sbin/haproxy` and to ha-compat invoked as `haproxy` (a
//! symlink to the test's binary), one after the other, each in a network namespace
//! `haqueue-PID-N` the test creates (loopback only, deleted by a drop guard, also on panic).
//!
//! Three frontends, each with its own backend, played one after the other:
//! - `fe1` -> `be1`, one server with `maxconn 1` (`balance roundrobin`, the backend
//!   queue): A holds the slot, B and C queue; A leaves and B gets the slot; C leaves
//!   while queued (`CQ`); D waits until `timeout queue` runs out (`sQ`); B leaves.
//! - `fe2` -> `be2`, `balance source` (the server is chosen before queueing, so its own
//!   queue and its `maxqueue 1`): A holds, B queues in the server's queue, C finds the
//!   queue full (`SQ`), B times out (`sQ`), E leaves while queued (`CQ`); F queues, A
//!   leaves, F gets the slot.
//! - `fe3` -> `be3`, two servers with `maxconn 1 maxqueue 1` (`roundrobin`: queued
//!   sessions wait in the backend queue, where `maxqueue` does not apply): A and B take
//!   both slots, C and D queue; B leaves and C gets B's server, A leaves and D gets A's.
//!
//! What must match, line for line: stderr (pids masked), the tcplog lines on stdout
//! (`log stdout format raw`; dates, client ports and timer values masked, but which
//! timers are -1 kept, and every counter `%ac/%fc/%bc/%sc/%rc %sq/%bq` compared as is),
//! what each client received, and the exit status after SIGTERM.
//!
//! Each step waits for its evidence (the bytes a client receives, the log line a session
//! writes when it ends) by polling with generous limits, then lets the session finish
//! giving back its counts (`AFTER_LOG_MS`). Only "this session is now queued" has nothing
//! to observe from outside; those steps wait a fixed 500 ms.
//!
//! Needs root and haproxy (`apt-get install -y haproxy`); skipped with a message otherwise.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

use std::io::Read;
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
    timeout client 20s
    timeout server 20s
    timeout queue 2s
frontend fe1
    bind 127.0.0.1:8081
    default_backend be1
frontend fe2
    bind 127.0.0.1:8082
    default_backend be2
frontend fe3
    bind 127.0.0.1:8083
    default_backend be3
backend be1
    server web1 127.0.0.1:9001 maxconn 1
backend be2
    balance source
    server web2 127.0.0.1:9002 maxconn 1 maxqueue 1
backend be3
    server web3a 127.0.0.1:9003 maxconn 1 maxqueue 1
    server web3b 127.0.0.1:9004 maxconn 1 maxqueue 1
";

/// How long any awaited evidence may take (a loaded 2-core CI machine): far more than
/// the story needs, and only spent when something is wrong.
const PATIENCE: Duration = Duration::from_secs(10);

/// A client connection through frontend port `port`, opened from inside the namespace
/// (the socket stays there; the test drives it from its own thread).
fn connect(ns: &Ns, port: u16) -> TcpStream {
    let s = ns
        .spawn(move || TcpStream::connect(("127.0.0.1", port)).unwrap())
        .join()
        .unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s
}

/// Reads until a newline, end of stream or `PATIENCE`: what a client was sent so far.
fn read_line(s: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while let Ok(1) = s.read(&mut byte) {
        got.push(byte[0]);
        if byte[0] == b'\n' {
            break;
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// Reads until end of stream (or `PATIENCE`), saying how it ended.
fn read_to_end(s: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let end = match s.read_to_end(&mut got) {
        Ok(_) => "EOF",
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => "RST",
        Err(_) => "no end",
    };
    format!("{:?} then {end}", String::from_utf8_lossy(&got))
}

/// The client closes its side (FIN) and reads what remains until the proxy closes.
fn close(mut s: TcpStream) -> String {
    let _ = s.shutdown(Shutdown::Write);
    read_to_end(&mut s)
}

/// What one daemon did.
#[derive(Debug, PartialEq)]
struct Observed {
    stderr: Vec<String>,
    logs: Vec<String>,
    received: Vec<String>,
    status: Option<String>,
    /// `(termination, %Tw)` of every tcplog line, unmasked: checked for what the story
    /// makes certain, not compared (the values are timing).
    waits: Vec<(String, i64)>,
}

/// `(termination, %Tw)` of each tcplog line in `path`.
fn waits(path: &Path) -> Vec<(String, i64)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("127.0.0.1:"))
        .map(|l| {
            let words: Vec<&str> = l.split(' ').collect();
            let tw = words[4].split('/').next().unwrap().parse().unwrap();
            (words[6].to_string(), tw)
        })
        .collect()
}

/// Masks what legitimately differs: pids, dates, client ports, timer values (which
/// timers are -1 stays visible).
fn mask(line: &str) -> String {
    let mut words: Vec<String> = line.split(' ').map(str::to_owned).collect();
    let tcplog = line.starts_with("127.0.0.1:");
    for (i, w) in words.iter_mut().enumerate() {
        if w.starts_with('(') && w.ends_with(')') && w[1..w.len() - 1].parse::<u32>().is_ok() {
            *w = "(PID)".into();
        } else if w.starts_with('[') && w.ends_with(']') && w.contains('/') && w.contains(':') {
            *w = "[DATE]".into();
        } else if let Some((ip, port)) = w.rsplit_once(':') {
            if ip == "127.0.0.1" && port.parse::<u16>().is_ok() && !port.starts_with("808") {
                *w = "127.0.0.1:PORT".into();
            }
        } else if tcplog && i == 4 {
            // `%Tw/%Tc/%Tt`.
            *w = w
                .split('/')
                .map(|t| if t == "-1" { "-1" } else { "T" })
                .collect::<Vec<_>>()
                .join("/");
        }
    }
    words.join(" ")
}

/// The lines of `path` so far (without `[NOTICE]`s), masked.
fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.contains("[NOTICE]"))
        .map(mask)
        .collect()
}

/// Waits until the log holds `n` lines (or `PATIENCE` passed: the comparison will show
/// what is missing), then `AFTER_LOG_MS`.
fn await_logs(path: &Path, n: usize) {
    let start = Instant::now();
    while read_lines(path).len() < n && start.elapsed() < PATIENCE {
        sleep_ms(20);
    }
    sleep_ms(AFTER_LOG_MS);
}

/// A session writes its line before it gives back its process and frontend connection
/// counts (`%ac/%fc`; HAProxy frees the session after the log, on whichever of its
/// threads runs it, and ours drops its slots after the log too). The next step must not
/// race that: once in about 30 runs on a loaded machine, haproxy 2.6.12 itself logged
/// `2/2/0/0/0` for the last session of a frontend when the previous one had just logged.
const AFTER_LOG_MS: u64 = 200;

/// Time for a new connection to be accepted and queued (nothing to see from outside).
const SETTLE_MS: u64 = 500;

fn play(program: &Path, dir: &Path) -> Observed {
    let ns = Ns::new("haqueue");
    let cfg = dir.join("haproxy.cfg");
    std::fs::write(&cfg, CFG).unwrap();
    let webs = [
        Web::start(&ns, 9001, "web1", AfterGreeting::Hold),
        Web::start(&ns, 9002, "web2", AfterGreeting::Hold),
        Web::start(&ns, 9003, "web3a", AfterGreeting::Hold),
        Web::start(&ns, 9004, "web3b", AfterGreeting::Hold),
    ];
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
    // Until the frontends listen: a probe through fe1 that reads its line and closes
    // like every other client (a session of its own, with a log line).
    let start = Instant::now();
    let mut probed = String::new();
    while start.elapsed() < PATIENCE && probed.is_empty() {
        probed = ns
            .spawn(|| match TcpStream::connect("127.0.0.1:8081") {
                Ok(mut s) => {
                    s.set_read_timeout(Some(PATIENCE)).unwrap();
                    format!("{:?} {}", read_line(&mut s), close(s))
                }
                Err(_) => String::new(),
            })
            .join()
            .unwrap();
        if probed.is_empty() {
            sleep_ms(50);
        }
    }
    let mut logs = 1;
    await_logs(&stdout, logs);
    let mut received = vec![format!("probe: {probed}")];
    let mut got = |who: &str, what: String| received.push(format!("{who}: {what}"));

    // be1: one slot, the backend queue.
    let mut a = connect(&ns, 8081);
    got("be1 A", read_line(&mut a));
    let mut b = connect(&ns, 8081);
    sleep_ms(SETTLE_MS);
    let c = connect(&ns, 8081);
    sleep_ms(SETTLE_MS);
    got("be1 A leaves", close(a));
    logs += 1;
    await_logs(&stdout, logs);
    got("be1 B dequeued", read_line(&mut b));
    // C leaves while queued (behind nobody now): `CQ`.
    got("be1 C leaves queued", close(c));
    logs += 1;
    await_logs(&stdout, logs);
    // D waits in vain: `timeout queue` (2 s) runs out, `sQ`.
    let mut d = connect(&ns, 8081);
    got("be1 D times out", read_to_end(&mut d));
    logs += 1;
    await_logs(&stdout, logs);
    got("be1 B leaves", close(b));
    logs += 1;
    await_logs(&stdout, logs);

    // be2: `balance source` queues on the server itself, whose `maxqueue` is 1.
    let mut a = connect(&ns, 8082);
    got("be2 A", read_line(&mut a));
    let mut b = connect(&ns, 8082);
    sleep_ms(SETTLE_MS);
    let mut c = connect(&ns, 8082);
    got("be2 C finds the queue full", read_to_end(&mut c));
    logs += 1;
    await_logs(&stdout, logs);
    got("be2 B times out", read_to_end(&mut b));
    logs += 1;
    await_logs(&stdout, logs);
    let e = connect(&ns, 8082);
    sleep_ms(SETTLE_MS);
    got("be2 E leaves queued", close(e));
    logs += 1;
    await_logs(&stdout, logs);
    let mut f = connect(&ns, 8082);
    sleep_ms(SETTLE_MS);
    got("be2 A leaves", close(a));
    logs += 1;
    await_logs(&stdout, logs);
    got("be2 F dequeued", read_line(&mut f));
    got("be2 F leaves", close(f));
    logs += 1;
    await_logs(&stdout, logs);

    // be3: two slots, two queued in the backend queue despite `maxqueue 1`.
    let mut a = connect(&ns, 8083);
    got("be3 A", read_line(&mut a));
    let mut b = connect(&ns, 8083);
    got("be3 B", read_line(&mut b));
    let mut c = connect(&ns, 8083);
    sleep_ms(SETTLE_MS);
    let mut d = connect(&ns, 8083);
    sleep_ms(SETTLE_MS);
    got("be3 B leaves", close(b));
    logs += 1;
    await_logs(&stdout, logs);
    got("be3 C dequeued", read_line(&mut c));
    got("be3 A leaves", close(a));
    logs += 1;
    await_logs(&stdout, logs);
    got("be3 D dequeued", read_line(&mut d));
    got("be3 C leaves", close(c));
    logs += 1;
    await_logs(&stdout, logs);
    got("be3 D leaves", close(d));
    logs += 1;
    await_logs(&stdout, logs);

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(daemon.0.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let mut status = None;
    let start = Instant::now();
    while start.elapsed() < PATIENCE {
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
    drop(webs);
    let read = |p: &PathBuf| read_lines(p);
    Observed {
        stderr: read(&stderr),
        logs: read(&stdout),
        received,
        status,
        waits: waits(&stdout),
    }
}

#[test]
fn queues_behave_like_haproxy_2_6() {
    if !can_run("queue_reference") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("haqueue-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let link = dir.join("haproxy");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_ha-compat"), &link).unwrap();
    let reference = play(Path::new(HAPROXY), &dir);
    eprintln!("reference: {reference:#?}");
    let ours = play(&link, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("ours: {ours:#?}");
    // The story happened on the reference as planned (else the comparison proves little).
    for flags in ["CQ", "sQ", "SQ"] {
        assert!(
            reference
                .logs
                .iter()
                .any(|l| l.contains(&format!(" {flags} "))),
            "no {flags} line: {reference:#?}"
        );
    }
    // %Tw counts the wait: `timeout queue` (2 s) for `sQ`, at least the two settling
    // pauses for be1's B (queued behind A while C and A's close were played).
    for observed in [&reference, &ours] {
        let sq: Vec<i64> = observed
            .waits
            .iter()
            .filter(|(t, _)| t == "sQ")
            .map(|(_, w)| *w)
            .collect();
        assert_eq!(sq.len(), 2, "{observed:#?}");
        assert!(sq.iter().all(|w| *w >= 1990), "{observed:#?}");
        let b = observed.waits.get(4).map_or(-1, |(_, w)| *w);
        assert!(b >= 2 * SETTLE_MS as i64 - 10, "be1 B's %Tw: {observed:#?}");
    }
    assert_eq!(ours.received, reference.received, "what the clients got");
    assert_eq!(ours.logs, reference.logs, "log lines");
    assert_eq!(ours.stderr, reference.stderr, "stderr");
    assert_eq!(ours.status, reference.status, "exit status after SIGTERM");
}
