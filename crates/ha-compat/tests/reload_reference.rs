//! Reload under load (issue 8), against the real haproxy 2.6.12: `PROGRAM -W -f CFG` in a
//! network namespace of its own (127.0.0.1 only), a toy HTTP/1.1 server behind it, and
//! load from this process while the master gets SIGUSR2 ten times, the fifth with an
//! invalid file in place (restored before the next). Load: keep-alive clients sending
//! requests back to back on one connection, and `Connection: close` clients opening a
//! connection per request; every request that does not get a full `200` counts as
//! failed (connect error, reset, EOF before the end of the response, other status,
//! 5 s without an answer).
//!
//! One allowance, measured on 2.6.12 and documented by HAProxy ("option
//! idle-close-on-response": "by default, idle connections will be closed during a soft
//! stop ... a proper implementation should retry on connection/write errors"): a worker
//! told to stop closes the keep-alive connections that wait for their next request, so a
//! client that has just sent one on such a connection sees it closed before any byte of
//! the answer. Our keep-alive clients do what HTTP clients do there (RFC 9112 §9.3.1:
//! a request sent on a reused connection closed before any response may be retried):
//! they send it again once on a new connection, and only a failed retry counts. The
//! retries are counted and printed.
//!
//! Asserted for both programs: zero failed requests; the invalid reload refused (the
//! alert on the master's stderr) with the worker from before it still serving; every
//! worker from before the last reload gone within 5 s of it while the keep-alive clients
//! still run (a soft-stopped worker must not wait for its clients to close); at most one
//! retry per keep-alive client and reload. Needs root; skipped otherwise. The two runs
//! hold a lock: they share the machine's cores.
//!
//! The cfg has no `stats socket ... expose-fd listeners`: 2.6.12's master does not need
//! it. On a reload it re-executes itself with `-x sockpair@FD` (FD: its end of the
//! current worker's master-CLI socketpair, whose listener has `ACCESS_FD_LISTENERS` set
//! unconditionally: `mworker_reexec()` in src/haproxy.c, `mworker_cli_sockpair_new()` in
//! src/cli.c), so the new worker takes the listening sockets over with `_getsocks`
//! (measured: the new worker's command line is `haproxy -sf OLD -x sockpair@3 -W -f CFG`;
//! with and without `expose-fd listeners`, `scripts/bench-reload.sh` sees no failed
//! `Connection: close` request).
#![allow(clippy::unwrap_used)]

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

mod common;

use common::children_of;

const HAPROXY: &str = "/usr/sbin/haproxy";
const FRONT: &str = "127.0.0.1:8080";
const RELOADS: usize = 10;
/// The reload (1-based) that finds the invalid file.
const INVALID_AT: usize = 5;
const KEEP_ALIVE_CLIENTS: usize = 4;
const CLOSE_CLIENTS: usize = 4;
const BAD_KEYWORD: &str = "this-keyword-does-not-exist";

static NEXT: AtomicUsize = AtomicUsize::new(0);
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn can_run(test: &str) -> bool {
    let ok = nix::unistd::geteuid().is_root() && Path::new(HAPROXY).exists();
    if !ok {
        eprintln!("SKIP {test}: needs root and {HAPROXY}");
    }
    ok
}

/// ha-compat under the name `haproxy` (a symlink in the target's scratch directory).
fn ours() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("reload-reference-bin");
    std::fs::create_dir_all(&dir).unwrap();
    let link = dir.join("haproxy");
    if !link.exists() {
        let _ = std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_ha-compat"), &link);
    }
    link
}

/// A namespace with `lo` up and a scratch directory; on drop every process in the
/// namespace is killed, the namespace and the directory removed.
struct Lab {
    ns: String,
    dir: PathBuf,
}

impl Lab {
    fn new() -> Lab {
        let ns = format!(
            "hacreload-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(&ns);
        std::fs::create_dir_all(&dir).unwrap();
        let lab = Lab { ns, dir };
        for args in [
            vec!["netns", "add", &lab.ns],
            vec!["-n", &lab.ns, "link", "set", "lo", "up"],
        ] {
            assert!(Command::new("ip").args(&args).status().unwrap().success());
        }
        // The close clients open thousands of connections a second (the namespace's own
        // sysctls).
        for (key, value) in [
            ("net.ipv4.ip_local_port_range", "1024 65000"),
            ("net.ipv4.tcp_tw_reuse", "1"),
        ] {
            let _ = Command::new("ip")
                .args(["netns", "exec", &lab.ns, "sysctl", "-q", "-w"])
                .arg(format!("{key}={value}"))
                .status();
        }
        lab
    }

    /// Runs `f` on a new thread that has entered the namespace.
    fn spawn<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::thread::JoinHandle<T> {
        let path = format!("/run/netns/{}", self.ns);
        std::thread::spawn(move || {
            let file = std::fs::File::open(&path).unwrap();
            nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            f()
        })
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
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(100));
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The master, killed on drop (the lab kills its workers).
struct Master(Child);

impl Drop for Master {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.rsplit_once(") ").is_some_and(|(_, r)| r.starts_with('Z')))
        .unwrap_or(false)
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

/// The toy server: HTTP/1.1 keep-alive, `200` with a 3-byte body to every request, a
/// thread per connection; stops accepting when `running` goes false.
fn start_backend(lab: &Lab, running: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let thread = lab.spawn(move || {
        let listener = TcpListener::bind("127.0.0.1:9001").unwrap();
        listener.set_nonblocking(true).unwrap();
        ready_tx.send(()).unwrap();
        while running.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((stream, _)) => {
                    std::thread::spawn(move || serve_backend_connection(stream));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(2)),
            }
        }
    });
    ready_rx.recv().unwrap();
    thread
}

fn serve_backend_connection(mut stream: TcpStream) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        // Requests without a body: each ends at its blank line.
        while let Some(end) = find(&buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            buf.drain(..end + 4);
            let close = head.contains("\r\nconnection: close");
            let response: &[u8] = if close {
                b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: close\r\n\r\nok\n"
            } else {
                b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nok\n"
            };
            if stream.write_all(response).is_err() || close {
                return;
            }
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// How a request ended, as a client sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// A full `200`; `closing` if the response said `connection: close` (or the server
    /// closed right after it).
    Ok { closing: bool },
    /// Closed (EOF, reset, broken pipe) before any byte of the response.
    ClosedBeforeResponse,
    /// Anything else: connect error, EOF or reset mid-response, another status, timeout.
    Failed(&'static str),
}

/// Sends one GET on `stream` and reads its response.
fn exchange(stream: &mut TcpStream, close: bool) -> Outcome {
    let request: &[u8] = if close {
        b"GET / HTTP/1.1\r\nhost: lb\r\nconnection: close\r\n\r\n"
    } else {
        b"GET / HTTP/1.1\r\nhost: lb\r\n\r\n"
    };
    if let Err(e) = stream.write_all(request) {
        return match e.kind() {
            ErrorKind::BrokenPipe | ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted => {
                Outcome::ClosedBeforeResponse
            }
            _ => Outcome::Failed("write error"),
        };
    }
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 2048];
    let head_end = loop {
        if let Some(end) = find(&buf, b"\r\n\r\n") {
            break end;
        }
        match stream.read(&mut chunk) {
            Ok(0) if buf.is_empty() => return Outcome::ClosedBeforeResponse,
            Ok(0) => return Outcome::Failed("EOF in the response head"),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if buf.is_empty() && e.kind() == ErrorKind::ConnectionReset => {
                return Outcome::ClosedBeforeResponse
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Outcome::Failed("timeout")
            }
            Err(_) => return Outcome::Failed("reset in the response"),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    if !head.starts_with("http/1.1 200 ") {
        return Outcome::Failed("status other than 200");
    }
    let length: usize = head
        .split("\r\n")
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(usize::MAX);
    if length == usize::MAX {
        return Outcome::Failed("no content-length");
    }
    let closing = head.contains("\r\nconnection: close");
    let mut body = buf.len() - head_end - 4;
    while body < length {
        match stream.read(&mut chunk) {
            Ok(0) => return Outcome::Failed("EOF in the response body"),
            Ok(n) => body += n,
            Err(_) => return Outcome::Failed("error in the response body"),
        }
    }
    Outcome::Ok { closing }
}

fn connect() -> Result<TcpStream, &'static str> {
    let stream = TcpStream::connect_timeout(&FRONT.parse().unwrap(), Duration::from_secs(5))
        .map_err(|_| "connect error")?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

#[derive(Default)]
struct Counters {
    ok: AtomicU64,
    failed: AtomicU64,
    /// Keep-alive requests retried after the connection closed before any response.
    retried: AtomicU64,
    /// Responses with `connection: close` on keep-alive connections (soft stop).
    closing: AtomicU64,
    reasons: Mutex<Vec<&'static str>>,
}

impl Counters {
    fn fail(&self, why: &'static str) {
        self.failed.fetch_add(1, Ordering::SeqCst);
        let mut reasons = self.reasons.lock().unwrap();
        if reasons.len() < 20 {
            reasons.push(why);
        }
    }
}

/// A keep-alive client: requests back to back on one connection, a new connection when
/// the server closes it (after `connection: close`, or before a response: one retry).
fn keep_alive_client(running: &AtomicBool, counters: &Counters) {
    let mut stream: Option<TcpStream> = None;
    while running.load(Ordering::SeqCst) {
        let reused = stream.is_some();
        let mut s = match stream.take().map_or_else(connect, Ok) {
            Ok(s) => s,
            Err(why) => {
                counters.fail(why);
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let mut outcome = exchange(&mut s, false);
        if outcome == Outcome::ClosedBeforeResponse && reused {
            counters.retried.fetch_add(1, Ordering::SeqCst);
            outcome = match connect() {
                Ok(fresh) => {
                    s = fresh;
                    exchange(&mut s, false)
                }
                Err(why) => Outcome::Failed(why),
            };
        }
        match outcome {
            Outcome::Ok { closing } => {
                counters.ok.fetch_add(1, Ordering::SeqCst);
                if closing {
                    counters.closing.fetch_add(1, Ordering::SeqCst);
                } else {
                    stream = Some(s);
                }
            }
            Outcome::ClosedBeforeResponse => counters.fail("closed before the response"),
            Outcome::Failed(why) => counters.fail(why),
        }
    }
}

/// A `Connection: close` client: a new connection per request.
fn close_client(running: &AtomicBool, counters: &Counters) {
    while running.load(Ordering::SeqCst) {
        let outcome = match connect() {
            Ok(mut s) => exchange(&mut s, true),
            Err(why) => Outcome::Failed(why),
        };
        match outcome {
            Outcome::Ok { .. } => {
                counters.ok.fetch_add(1, Ordering::SeqCst);
            }
            Outcome::ClosedBeforeResponse => counters.fail("closed before the response"),
            Outcome::Failed(why) => counters.fail(why),
        }
    }
}

fn cfg(bad: bool) -> String {
    let bad_line = if bad {
        format!("    {BAD_KEYWORD} 1\n")
    } else {
        String::new()
    };
    format!(
        "global
    maxconn 2000
{bad_line}defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend fe
    bind {FRONT}
    default_backend be
backend be
    server s1 127.0.0.1:9001
"
    )
}

/// What one run measured.
#[allow(dead_code)] // some fields are only read through Debug, in the messages
#[derive(Debug)]
struct ReloadRun {
    keep_alive_ok: u64,
    keep_alive_failed: u64,
    keep_alive_retried: u64,
    keep_alive_closing: u64,
    close_ok: u64,
    close_failed: u64,
    reasons: Vec<&'static str>,
    /// The master's stderr has the invalid file's alert.
    invalid_alerted: bool,
    /// The workers that served before the invalid reload still did after it.
    invalid_kept_workers: bool,
    /// A request on a new connection right after the invalid reload got a 200.
    served_after_invalid: bool,
    /// Every worker from before the last reload had exited 5 s after it.
    old_workers_gone: bool,
    /// What was left (pids) if not.
    left: Vec<i32>,
}

fn reload_under_load(program: &Path) -> ReloadRun {
    let lab = Lab::new();
    let backend_running = Arc::new(AtomicBool::new(true));
    let backend = start_backend(&lab, backend_running.clone());
    let cfg_path = lab.dir.join("lb.cfg");
    std::fs::write(&cfg_path, cfg(false)).unwrap();
    let err_path = lab.dir.join("master.err");
    let master = Master(
        Command::new("ip")
            .args(["netns", "exec", &lab.ns])
            .arg(program)
            .args(["-W", "-f"])
            .arg(&cfg_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&err_path).unwrap())
            .spawn()
            .unwrap(),
    );
    // `ip netns exec` execs: the child is the master.
    let master_pid = i32::try_from(master.0.id()).unwrap();
    let up = wait_until(Duration::from_secs(10), || {
        lab.spawn(|| {
            connect().is_ok_and(|mut s| matches!(exchange(&mut s, true), Outcome::Ok { .. }))
        })
        .join()
        .unwrap()
    });
    assert!(up, "{}: not serving on {FRONT}", program.display());

    let running = Arc::new(AtomicBool::new(true));
    let keep_alive = Arc::new(Counters::default());
    let close = Arc::new(Counters::default());
    let mut clients = Vec::new();
    for _ in 0..KEEP_ALIVE_CLIENTS {
        let (running, counters) = (running.clone(), keep_alive.clone());
        clients.push(lab.spawn(move || keep_alive_client(&running, &counters)));
    }
    for _ in 0..CLOSE_CLIENTS {
        let (running, counters) = (running.clone(), close.clone());
        clients.push(lab.spawn(move || close_client(&running, &counters)));
    }
    std::thread::sleep(Duration::from_millis(500));

    let master_signal = |s| kill(Pid::from_raw(master_pid), s).unwrap();
    let alerts = || {
        std::fs::read_to_string(&err_path)
            .unwrap_or_default()
            .matches(BAD_KEYWORD)
            .count()
    };
    let mut invalid_alerted = false;
    let mut invalid_kept_workers = false;
    let mut served_after_invalid = false;
    let mut before_last = Vec::new();
    for i in 1..=RELOADS {
        if i == INVALID_AT {
            // The previous reload's new worker has taken over by now (HAProxy's master
            // re-executes and parses before forking; give it the time).
            std::thread::sleep(Duration::from_millis(300));
            let workers = children_of(master_pid);
            let alerts_before = alerts();
            std::fs::write(&cfg_path, cfg(true)).unwrap();
            master_signal(Signal::SIGUSR2);
            invalid_alerted = wait_until(Duration::from_secs(5), || alerts() > alerts_before);
            // Ours: the refused worker has exited once the master reaped it.
            std::thread::sleep(Duration::from_millis(200));
            let serving: Vec<i32> = children_of(master_pid);
            invalid_kept_workers = workers.iter().any(|w| serving.contains(w) && alive(*w))
                && serving.iter().all(|w| workers.contains(w));
            served_after_invalid = lab
                .spawn(|| {
                    connect()
                        .is_ok_and(|mut s| matches!(exchange(&mut s, true), Outcome::Ok { .. }))
                })
                .join()
                .unwrap();
            std::fs::write(&cfg_path, cfg(false)).unwrap();
        } else {
            if i == RELOADS {
                before_last = children_of(master_pid);
            }
            master_signal(Signal::SIGUSR2);
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    // The load goes on: a soft-stopped worker must close its keep-alive connections
    // itself.
    let old_workers_gone = wait_until(Duration::from_secs(5), || {
        before_last.iter().all(|p| !alive(*p))
    });
    let left: Vec<i32> = before_last.iter().copied().filter(|p| alive(*p)).collect();
    std::thread::sleep(Duration::from_millis(300));
    running.store(false, Ordering::SeqCst);
    for c in clients {
        c.join().unwrap();
    }
    backend_running.store(false, Ordering::SeqCst);
    backend.join().unwrap();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    eprintln!("{}: master stderr:\n{stderr}", program.display());
    drop(master);
    let mut reasons = keep_alive.reasons.lock().unwrap().clone();
    reasons.extend(close.reasons.lock().unwrap().iter());
    ReloadRun {
        keep_alive_ok: keep_alive.ok.load(Ordering::SeqCst),
        keep_alive_failed: keep_alive.failed.load(Ordering::SeqCst),
        keep_alive_retried: keep_alive.retried.load(Ordering::SeqCst),
        keep_alive_closing: keep_alive.closing.load(Ordering::SeqCst),
        close_ok: close.ok.load(Ordering::SeqCst),
        close_failed: close.failed.load(Ordering::SeqCst),
        reasons,
        invalid_alerted,
        invalid_kept_workers,
        served_after_invalid,
        old_workers_gone,
        left,
    }
}

fn assert_lossless(program: &Path, run: &ReloadRun) {
    eprintln!("{}: {run:?}", program.display());
    // Load did flow (a run where nothing was sent proves nothing).
    assert!(run.keep_alive_ok > 100 && run.close_ok > 100, "{run:?}");
    assert_eq!(
        (run.keep_alive_failed, run.close_failed),
        (0, 0),
        "{}: failed requests (keep-alive, close): {run:?}",
        program.display()
    );
    assert!(
        run.invalid_alerted,
        "no alert for the invalid file: {run:?}"
    );
    assert!(
        run.invalid_kept_workers && run.served_after_invalid,
        "the invalid reload disturbed the serving worker: {run:?}"
    );
    // Each keep-alive connection meets a soft stop at most once per reload.
    assert!(
        run.keep_alive_retried <= (KEEP_ALIVE_CLIENTS * RELOADS) as u64,
        "more closed-before-response retries than soft stops could explain: {run:?}"
    );
    assert!(
        run.old_workers_gone,
        "workers from before the last reload still alive 5 s after it: {run:?}"
    );
}

#[test]
fn haproxy_reloads_under_load_without_failed_requests() {
    if !can_run("haproxy_reloads_under_load_without_failed_requests") {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let run = reload_under_load(Path::new(HAPROXY));
    assert_lossless(Path::new(HAPROXY), &run);
}

#[test]
fn ha_compat_reloads_under_load_as_haproxy() {
    if !can_run("ha_compat_reloads_under_load_as_haproxy") {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let program = ours();
    let run = reload_under_load(&program);
    assert_lossless(&program, &run);
    // Better than HAProxy 2.6's default: a stopping worker does not release a
    // connection idle between two requests, so no client has to retry.
    assert_eq!(run.keep_alive_retried, 0, "{run:?}");
    // ... and the kept-alive connections did move to the new workers.
    assert!(run.keep_alive_closing > 0, "{run:?}");
}
