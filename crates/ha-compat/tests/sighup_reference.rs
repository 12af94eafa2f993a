//! SIGHUP against the real HAProxy 2.6.12: the same configuration and the same events are
//! played to `/usr/sbin/haproxy` and to ha-compat invoked as `haproxy` (a symlink to the
//! test's binary), one after the other, each in a network namespace `haphup-PID-N` the
//! test creates (loopback only, deleted by a drop guard, also on panic).
//!
//! `haproxy -db`: `sig_dump_state()`. The configuration has a frontend routed to a
//! backend with one live server, one dead checked server, a backup (drained through the
//! stats page's admin form: UP, not usable), one in maintenance
//! (`disabled`: DOWN) and one of weight 0 (UP, not counted as usable); an HTTP frontend
//! routed to a backend whose only server is dead; a `listen` whose active server is dead
//! and whose backup (`maxconn 1`) serves one held session while another waits (in the
//! server's queue, as HAProxy 2.6 puts it); a `mode http` listen with one connection
//! idle between requests and one waiting for its answer. Clients pass, some stay connected, then SIGHUP, then SIGTERM. What must
//! match: the SIGHUP lines on stderr and in the log (`log stdout format raw`), in order
//! and exactly (pid masked); the other stderr and log lines (server state changes) as a
//! set (the order of checks of different servers is timing); that the process answers
//! after the SIGHUP and is then killed by SIGTERM.
//!
//! `haproxy -W -db`: HAProxy 2.6's master does not forward SIGHUP, it reloads
//! (`mworker_catch_sighup()`): a new worker, the old one soft-stopped, the master alive.
//! SIGHUP sent to the worker itself dumps the states, as with `-db`.
//!
//! Needs root and haproxy (`apt-get install -y haproxy`); skipped with a message otherwise.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

mod common;

use common::{can_run, children_of, sleep_ms, AfterGreeting, Daemon, Ns, Web, HAPROXY};

const CFG: &str = "\
global
    log stdout format raw local0
defaults
    mode tcp
    log global
    option tcplog
    timeout connect 1s
    timeout client 10s
    timeout server 10s
    timeout queue 10s
frontend fe
    bind 127.0.0.1:8080
    default_backend be
backend be
    server web1 127.0.0.1:9001 check inter 300 fall 2 rise 2
    server web2 127.0.0.1:9002 check inter 300 fall 2 rise 2
    server web3 127.0.0.1:9003 backup
    server web4 127.0.0.1:9001 disabled
    server web5 127.0.0.1:9001 weight 0
frontend www
    mode http
    option httplog
    bind 127.0.0.1:8081
    default_backend dead
backend dead
    mode http
    server d1 127.0.0.1:9005 check inter 300 fall 1 rise 1
listen lst
    bind 127.0.0.1:8082
    server l1 127.0.0.1:9006 check inter 300 fall 1 rise 1
    server l2 127.0.0.1:9007 backup maxconn 1
listen web
    mode http
    option httplog
    bind 127.0.0.1:8083
    server h1 127.0.0.1:9008
listen stats
    mode http
    bind 127.0.0.1:8404
    stats enable
    stats uri /st
    stats admin if TRUE
";

/// An HTTP server on 127.0.0.1:9008 in the namespace: `GET /slow` is never answered
/// (held until the peer closes), anything else gets `200` with `ok`, kept alive. Stops
/// with the namespace's test (the listener thread ends when `running` goes false).
struct HttpServer {
    running: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HttpServer {
    fn start(ns: &Ns) -> HttpServer {
        use std::sync::atomic::{AtomicBool, Ordering};
        let running = std::sync::Arc::new(AtomicBool::new(true));
        let flag = running.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = ns.spawn(move || {
            let listener = std::net::TcpListener::bind("127.0.0.1:9008").unwrap();
            listener.set_nonblocking(true).unwrap();
            ready_tx.send(()).unwrap();
            while flag.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((s, _)) => {
                        std::thread::spawn(move || serve_http(s));
                    }
                    Err(_) => sleep_ms(5),
                }
            }
        });
        ready_rx.recv().unwrap();
        HttpServer {
            running,
            thread: Some(thread),
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.running
            .store(false, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve_http(s: TcpStream) {
    let _ = s.set_nonblocking(false);
    // Bounded, so a stuck peer cannot keep the thread forever.
    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
    let mut reader = BufReader::new(&s);
    loop {
        let mut head = String::new();
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(n) if n > 0 => {}
                _ => return,
            }
            let end = line == "\r\n";
            head.push_str(&line);
            if end {
                break;
            }
        }
        if head.starts_with("GET /slow") {
            let mut sink = String::new();
            while matches!(reader.read_line(&mut sink), Ok(n) if n > 0) {}
            return;
        }
        if (&s)
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            .is_err()
        {
            return;
        }
    }
}

/// An HTTP/1.1 request for `path` through `web`, the connection kept: the status line
/// once the whole answer is in (nothing for `/slow`, never answered).
fn http_kept(ns: &Ns, path: &'static str) -> (TcpStream, String) {
    ns.spawn(move || {
        let mut s = TcpStream::connect("127.0.0.1:8083").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        s.write_all(format!("GET {path} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes())
            .unwrap();
        let mut status = String::new();
        if path != "/slow" {
            let mut got = Vec::new();
            let mut buf = [0u8; 512];
            while !got.ends_with(b"\r\n\r\nok") {
                match s.read(&mut buf) {
                    Ok(n) if n > 0 => got.extend_from_slice(&buf[..n]),
                    _ => break,
                }
            }
            let text = String::from_utf8_lossy(&got);
            status = text.lines().next().unwrap_or("").to_string();
        }
        (s, status)
    })
    .join()
    .unwrap()
}

/// A connection through `addr` that has read the server's greeting line (or nothing, if
/// `greeted` is false: a queued one), kept open.
fn held(ns: &Ns, addr: &'static str, greeted: bool) -> (TcpStream, String) {
    ns.spawn(move || {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let mut line = String::new();
        if greeted {
            let _ = BufReader::new(&s).read_line(&mut line);
        }
        (s, line)
    })
    .join()
    .unwrap()
}

/// One HTTP/1.0 request through `www`: the status line.
fn http_status(ns: &Ns) -> String {
    ns.spawn(|| {
        let mut s = TcpStream::connect("127.0.0.1:8081").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        s.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        let mut got = String::new();
        let _ = s.read_to_string(&mut got);
        got.lines().next().unwrap_or("").to_string()
    })
    .join()
    .unwrap()
}

/// The stats page's admin form: `be/web3` to drain. The status line.
fn drain_web3(ns: &Ns) -> String {
    ns.spawn(|| {
        let body = "s=web3&action=drain&b=be";
        let mut s = TcpStream::connect("127.0.0.1:8404").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        s.write_all(
            format!(
                "POST /st HTTP/1.1\r\nHost: lb\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
        .unwrap();
        let mut got = String::new();
        let _ = s.read_to_string(&mut got);
        got.lines().next().unwrap_or("").to_string()
    })
    .join()
    .unwrap()
}

/// What one daemon did.
#[derive(Debug, PartialEq)]
struct Observed {
    /// stderr's SIGHUP lines, in order.
    stderr_dump: Vec<String>,
    /// The other stderr lines, sorted.
    stderr_other: Vec<String>,
    /// The log's SIGHUP lines, in order.
    log_dump: Vec<String>,
    /// The other log lines but the traffic lines, sorted.
    log_other: Vec<String>,
    received: Vec<String>,
    alive_after_sighup: bool,
    status: Option<String>,
}

/// Masks what legitimately differs: pids and check durations.
fn mask(line: &str) -> String {
    let words: Vec<String> = line
        .split(' ')
        .map(|w| {
            if w.starts_with('(') && w.ends_with(')') && w[1..w.len() - 1].parse::<u32>().is_ok() {
                "(PID)".to_string()
            } else {
                w.to_string()
            }
        })
        .collect();
    let line = words.join(" ");
    match line.find("check duration: ") {
        Some(at) => {
            let rest = &line[at + 16..];
            let end = rest.find("ms").unwrap_or(0);
            format!("{}check duration: Nms{}", &line[..at], &rest[end + 2..])
        }
        None => line,
    }
}

/// The SIGHUP lines in order, the others sorted.
fn split(lines: Vec<String>) -> (Vec<String>, Vec<String>) {
    let (dump, mut other): (Vec<String>, Vec<String>) =
        lines.into_iter().partition(|l| l.contains("SIGHUP"));
    other.sort();
    (dump, other)
}

fn status_of(daemon: &mut Daemon) -> Option<String> {
    for _ in 0..150 {
        if let Ok(Some(s)) = daemon.0.try_wait() {
            use std::os::unix::process::ExitStatusExt;
            return Some(s.code().map_or_else(
                || format!("killed by signal {}", s.signal().unwrap_or(0)),
                |c| format!("exit {c}"),
            ));
        }
        sleep_ms(20);
    }
    None
}

fn play(program: &Path, dir: &Path) -> Observed {
    let ns = Ns::new("haphup");
    let cfg = dir.join("haproxy.cfg");
    std::fs::write(&cfg, CFG).unwrap();
    let web1 = Web::start(&ns, 9001, "web1", AfterGreeting::Hold);
    let l2 = Web::start(&ns, 9007, "l2", AfterGreeting::Hold);
    let h1 = HttpServer::start(&ns);
    let stdout = dir.join(format!("{}.out", ns.0));
    let stderr = dir.join(format!("{}.err", ns.0));
    let mut daemon = Daemon::haproxy_db(
        &ns,
        program,
        &cfg,
        Stdio::from(std::fs::File::create(&stdout).unwrap()),
        Stdio::from(std::fs::File::create(&stderr).unwrap()),
    );
    // Checks every 300 ms: web2 (fall 2), d1 and l1 are down well before this.
    sleep_ms(1500);
    let mut received = Vec::new();
    // Three sessions through `fe` that end, 100 ms apart.
    for _ in 0..3 {
        let (s, line) = held(&ns, "127.0.0.1:8080", true);
        received.push(line);
        drop(s);
        sleep_ms(100);
    }
    // Two requests to the dead backend: 503.
    for _ in 0..2 {
        received.push(http_status(&ns));
        sleep_ms(100);
    }
    // The backup web3 draining: UP, but no longer a usable backup.
    received.push(drain_web3(&ns));
    sleep_ms(100);
    // Held during the SIGHUP: one session on web1, one on l2, one queued behind it.
    let (fe_held, line) = held(&ns, "127.0.0.1:8080", true);
    received.push(line);
    let (lst_held, line) = held(&ns, "127.0.0.1:8082", true);
    received.push(line);
    sleep_ms(100);
    let (lst_queued, _) = held(&ns, "127.0.0.1:8082", false);
    // `mode http`: one connection idle after its answer (kept alive), one waiting for
    // its answer.
    let (web_idle, status) = http_kept(&ns, "/");
    received.push(status);
    let (web_waiting, _) = http_kept(&ns, "/slow");
    sleep_ms(300);
    let pid = Pid::from_raw(daemon.0.id() as i32);
    kill(pid, Signal::SIGHUP).unwrap();
    sleep_ms(500);
    let alive_after_sighup = daemon.0.try_wait().unwrap().is_none();
    // Still serving, the held sessions untouched.
    let (s, line) = held(&ns, "127.0.0.1:8080", true);
    received.push(line);
    drop(s);
    drop(lst_held);
    // The queued session gets l2 once the held one has gone.
    let mut line = String::new();
    let _ = BufReader::new(&lst_queued).read_line(&mut line);
    received.push(line);
    drop(lst_queued);
    drop(fe_held);
    drop(web_idle);
    drop(web_waiting);
    sleep_ms(300);
    kill(pid, Signal::SIGTERM).unwrap();
    let status = status_of(&mut daemon);
    drop(web1);
    drop(l2);
    drop(h1);
    let read = |p: &PathBuf| -> Vec<String> {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            // [NOTICE] lines are version banners; traffic lines start with the client.
            .filter(|l| !l.contains("[NOTICE]") && !l.starts_with("127.0.0.1:"))
            .map(mask)
            .collect()
    };
    let (stderr_dump, stderr_other) = split(read(&stderr));
    let (log_dump, log_other) = split(read(&stdout));
    Observed {
        stderr_dump,
        stderr_other,
        log_dump,
        log_other,
        received,
        alive_after_sighup,
        status,
    }
}

fn scratch(name: &str) -> (PathBuf, PathBuf) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("haphup-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let link = dir.join("haproxy");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_ha-compat"), &link).unwrap();
    (dir, link)
}

/// `haproxy -db`: the dump, the process running on.
#[test]
fn sighup_dumps_server_states_like_haproxy_2_6() {
    if !can_run("sighup_reference") {
        return;
    }
    let (dir, link) = scratch("db");
    let reference = play(Path::new(HAPROXY), &dir);
    let ours = play(&link, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    // The story happened on the reference as planned (else the comparison proves little).
    assert!(reference.alive_after_sighup, "{reference:#?}");
    for expected in [
        "SIGHUP: Server be/web1 is UP. Conn: 1 act, 0 pend, 4 tot.",
        "SIGHUP: Server be/web4 is DOWN. Conn: 0 act, 0 pend, 0 tot.",
        "SIGHUP: Server be/web5 is UP. Conn: 0 act, 0 pend, 0 tot.",
        "SIGHUP: Server be/web3 is UP. Conn: 0 act, 0 pend, 0 tot.",
        "SIGHUP: Proxy be has 1 active servers and 0 backup servers available. Conn: act(FE+BE): 0+1, 0 pend (0 unass), tot(FE+BE): 0+4.",
        // The stats page's request does not enter the backend.
        "SIGHUP: Proxy stats has no servers. Conn: act(FE+BE): 0+0, 0 pend (0 unass), tot(FE+BE): 1+0.",
        // The queued session waits in l2's own queue, and counts in `beconn`.
        "SIGHUP: Server lst/l2 is UP. Conn: 1 act, 1 pend, 1 tot.",
        "SIGHUP: Proxy lst is running on backup servers ! Conn: act(FE+BE): 2+2, 1 pend (0 unass), tot(FE+BE): 2+2.",
        "SIGHUP: Server web/h1 is UP. Conn: 1 act, 0 pend, 2 tot.",
        "SIGHUP: Proxy web has 1 active servers and 0 backup servers available. Conn: act(FE+BE): 2+1, 0 pend (0 unass), tot(FE+BE): 2+2.",
    ] {
        assert!(
            reference.log_dump.iter().any(|l| l == expected),
            "{expected}\n{reference:#?}"
        );
    }
    assert_eq!(
        reference.status.as_deref(),
        Some("killed by signal 15"),
        "{reference:#?}"
    );
    assert_eq!(ours.received, reference.received, "what the clients got");
    assert_eq!(
        ours.stderr_dump, reference.stderr_dump,
        "stderr SIGHUP lines"
    );
    assert_eq!(ours.log_dump, reference.log_dump, "log SIGHUP lines");
    assert_eq!(ours.stderr_other, reference.stderr_other, "other stderr");
    assert_eq!(ours.log_other, reference.log_other, "other log lines");
    assert_eq!(ours.alive_after_sighup, reference.alive_after_sighup);
    assert_eq!(ours.status, reference.status, "exit status after SIGTERM");
}

/// What a `-W` master did with SIGHUP.
#[derive(Debug, PartialEq)]
struct MasterRun {
    /// The worker before and after were different processes.
    worker_replaced: bool,
    master_alive: bool,
    /// The new worker after a SIGHUP of its own.
    worker_alive: bool,
    /// A client through `fe` after the SIGHUP.
    served: String,
    /// stderr without [NOTICE] lines (pids masked), sorted: the two workers' lines
    /// interleave with the master's.
    stderr: Vec<String>,
    /// The worker's SIGHUP lines on stderr and in the log, in order.
    stderr_dump: Vec<String>,
    log_dump: Vec<String>,
    status: Option<String>,
}

fn master_sighup(program: &Path, dir: &Path) -> MasterRun {
    let ns = Ns::new("haphup");
    let cfg = dir.join("haproxy.cfg");
    std::fs::write(&cfg, CFG).unwrap();
    let web1 = Web::start(&ns, 9001, "web1", AfterGreeting::Close);
    let stderr = dir.join(format!("{}.err", ns.0));
    let stdout = dir.join(format!("{}.out", ns.0));
    let mut master = Daemon(
        Command::new("ip")
            .args(["netns", "exec", &ns.0])
            .arg(program)
            .args(["-W", "-db", "-f"])
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap(),
    );
    let pid = master.0.id() as i32;
    sleep_ms(1500);
    let before = children_of(pid);
    kill(Pid::from_raw(pid), Signal::SIGHUP).unwrap();
    sleep_ms(1500);
    let after = children_of(pid);
    let master_alive = master.0.try_wait().unwrap().is_none();
    // A worker itself dumps its servers' states on SIGHUP (HAProxy's worker keeps
    // `sig_dump_state()`), on the master's stderr, and serves on.
    if let Some(worker) = after.first() {
        kill(Pid::from_raw(*worker), Signal::SIGHUP).unwrap();
    }
    sleep_ms(300);
    let worker_alive = after.first().is_some_and(|w| children_of(pid).contains(w));
    let (s, served) = held(&ns, "127.0.0.1:8080", true);
    drop(s);
    sleep_ms(200);
    kill(Pid::from_raw(pid), Signal::SIGTERM).unwrap();
    let status = status_of(&mut master);
    drop(web1);
    let mut lines: Vec<String> = std::fs::read_to_string(&stderr)
        .unwrap()
        .lines()
        .filter(|l| !l.contains("[NOTICE]"))
        .map(mask)
        .collect();
    let stderr_dump = lines
        .iter()
        .filter(|l| l.contains("SIGHUP"))
        .cloned()
        .collect();
    lines.sort();
    let log_dump = std::fs::read_to_string(&stdout)
        .unwrap()
        .lines()
        .filter(|l| l.contains("SIGHUP"))
        .map(str::to_owned)
        .collect();
    MasterRun {
        worker_replaced: before.len() == 1 && after.len() == 1 && before != after,
        master_alive,
        worker_alive,
        served,
        stderr: lines,
        stderr_dump,
        log_dump,
        status,
    }
}

/// `haproxy -W -db`: SIGHUP to the master reloads, as HAProxy 2.6's master; SIGHUP to
/// the worker dumps its servers' states.
#[test]
fn sighup_to_a_master_reloads_like_haproxy_2_6() {
    if !can_run("sighup_reference") {
        return;
    }
    let (dir, link) = scratch("master");
    let reference = master_sighup(Path::new(HAPROXY), &dir);
    let ours = master_sighup(&link, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(reference.worker_replaced, "{reference:#?}");
    assert!(reference.master_alive, "{reference:#?}");
    assert!(reference.worker_alive, "{reference:#?}");
    // The worker's own `GLOBAL` proxy (the master CLI's), before `<HTTPCLIENT>`, not
    // logged.
    assert_eq!(
        reference.stderr_dump[reference.stderr_dump.len() - 4],
        "[WARNING]  (PID) : SIGHUP: Proxy GLOBAL has no servers. Conn: act(FE+BE): 0+0, 0 pend (0 unass), tot(FE+BE): 0+0.",
        "{reference:#?}"
    );
    assert!(
        !reference.log_dump.iter().any(|l| l.contains("GLOBAL")),
        "{reference:#?}"
    );
    assert!(
        reference
            .stderr
            .iter()
            .any(|l| l.ends_with("SIGHUP: Server be/web1 is UP. Conn: 0 act, 0 pend, 0 tot.")),
        "{reference:#?}"
    );
    assert_eq!(reference.served, "web1\n", "{reference:#?}");
    assert!(
        reference
            .stderr
            .iter()
            .any(|l| l.contains("Former worker (PID) exited with code 0 (Exit)")),
        "{reference:#?}"
    );
    assert_eq!(ours, reference);
}
