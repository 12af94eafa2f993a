//! Frontends without `default_backend` against the real HAProxy 2.6.12: the same
//! configuration run by `/usr/sbin/haproxy` and by ha-compat invoked as `haproxy`, each
//! in a network namespace of its own, the same requests to both.
//!
//! HAProxy runs such a frontend as its own backend without servers (`defbe.be = px`):
//! a `mode http` request no rule routes is answered the 503 page and logged
//! `fe fe/<NOSRV> -1/-1/-1/-1/…  503 217 - - SC--` (keep-alive goes on), a `mode tcp`
//! connection is closed (`t t/<NOSRV> -1/-1/… 0 SC`). The frontends here: the
//! Prometheus exporter frontend of HAProxy's documentation (`/metrics`; any other path
//! 503), one with a `use_backend` rule only, a stats page one and a `mode tcp` one.
//!
//! Compared: `haproxy -c`'s exit code and warnings, the answers byte for byte (the
//! exporter's and the stats page's heads, the exporter's `# HELP`/`# TYPE` lines), what
//! a `mode tcp` client sees (end of stream, not a reset), the log lines (client port,
//! date, `%ac` and timers other than -1 masked; the stats page's size too), the SIGHUP dump
//! and the soft stop's `Proxy X stopped` lines (stderr and log): no `BACKEND` of its own
//! is reported, its `BE` count is the requests that reached it (not the exporter's or
//! the stats page's).
//!
//! Needs root and haproxy (`apt-get install -y haproxy`); skipped with a message otherwise.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

use common::{can_run, sleep_ms, Daemon, Ns, HAPROXY};

const CFG: &str = "\
global
    maxconn 500
    log stdout format raw local0
defaults
    mode http
    log global
    option httplog
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend prometheus
    bind 127.0.0.1:8405
    mode http
    http-request use-service prometheus-exporter if { path /metrics }
    no log
frontend fe
    bind 127.0.0.1:8080
    use_backend b if { path_beg /b }
frontend st
    bind 127.0.0.1:8081
    stats enable
    stats uri /stats
frontend t
    bind 127.0.0.1:8090
    mode tcp
    option tcplog
backend b
    server s1 127.0.0.1:9001
";

/// An HTTP server on 127.0.0.1:9001 answering each connection's request with a 200
/// (`ok\n`) and closing, until `running` is cleared.
fn web(ns: &Ns, running: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let thread = ns.spawn(move || {
        let listener = TcpListener::bind("127.0.0.1:9001").unwrap();
        listener.set_nonblocking(true).unwrap();
        ready_tx.send(()).unwrap();
        while running.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((mut s, _)) => {
                    let _ = s.set_nonblocking(false);
                    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                    let mut head = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match s.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nok\n");
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    ready_rx.recv().unwrap();
    thread
}

/// Sends `request` to `port` and reads until the connection closes (5 s at most).
fn fetch(ns: &Ns, port: u16, request: &'static str) -> Vec<u8> {
    ns.spawn(move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        out
    })
    .join()
    .unwrap()
}

/// What a `mode tcp` client sending `data` (if any) then reading sees.
fn tcp_client(ns: &Ns, data: &'static [u8]) -> String {
    ns.spawn(move || {
        let mut s = TcpStream::connect("127.0.0.1:8090").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        if !data.is_empty() {
            s.write_all(data).unwrap();
        }
        let mut buf = [0u8; 256];
        match s.read(&mut buf) {
            Ok(0) => "end of stream".to_string(),
            Ok(n) => format!("{n} bytes"),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => "reset".to_string(),
            Err(e) => format!("error {:?}", e.kind()),
        }
    })
    .join()
    .unwrap()
}

fn head_lines(raw: &[u8]) -> Vec<String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(raw.len());
    String::from_utf8_lossy(&raw[..end])
        .split("\r\n")
        .map(str::to_string)
        .collect()
}

/// The `# HELP`/`# TYPE` lines of a (chunked) exporter page.
fn family_lines(raw: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(raw)
        .lines()
        .filter(|l| l.starts_with("# HELP ") || l.starts_with("# TYPE "))
        .map(str::to_string)
        .collect()
}

/// A log line with its client port, date, the timers that are not -1, `%ac` and, for
/// the stats page, its size masked.
fn log_shape(line: &str) -> String {
    if !line.contains(" [") {
        // SIGHUP and soft stop lines: as they are.
        return line.to_string();
    }
    let stats = line.contains("/<STATS> ");
    line.split(' ')
        .enumerate()
        .map(|(i, f)| match i {
            0 => f.split(':').next().unwrap().to_string(),
            1 => "[date]".to_string(),
            4 => f
                .split('/')
                .map(|t| if t == "-1" { "-1" } else { "N" })
                .collect::<Vec<_>>()
                .join("/"),
            6 if stats => "[bytes]".to_string(),
            // `%ac`, the process's connections, may still count the previous client's
            // (its release races with the next accept, on the reference too).
            _ if f.split('/').count() == 5 && f.split('/').all(|n| n.parse::<u32>().is_ok()) => {
                let (_, rest) = f.split_once('/').unwrap();
                format!("N/{rest}")
            }
            _ => f.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A stderr line without its PID.
fn mask_pid(line: &str) -> String {
    match line.split_once(" : ") {
        Some((level, rest)) => format!("{} : {rest}", level.split(' ').next().unwrap()),
        None => line.to_string(),
    }
}

#[derive(Debug)]
struct Observed {
    check_status: Option<i32>,
    check_warnings: Vec<String>,
    metrics_head: Vec<String>,
    metrics_families: Vec<String>,
    /// Another path on the exporter frontend.
    prometheus_other: Vec<u8>,
    routed: Vec<u8>,
    unrouted: Vec<u8>,
    /// A 503 then a routed request on one kept-alive connection.
    keep_alive: Vec<u8>,
    stats_head: Vec<String>,
    stats_other: Vec<u8>,
    tcp_with_data: String,
    tcp_silent: String,
    log: Vec<String>,
    stderr: Vec<String>,
    status: Option<i32>,
}

fn play(program: &Path, dir: &Path) -> Observed {
    let cfg = dir.join("haproxy.cfg");
    std::fs::write(&cfg, CFG).unwrap();
    let check = Command::new(program)
        .args(["-c", "-f"])
        .arg(&cfg)
        .output()
        .unwrap();
    let check_warnings = String::from_utf8_lossy(&check.stderr)
        .lines()
        .chain(String::from_utf8_lossy(&check.stdout).lines())
        .filter(|l| l.contains("[WARNING]") || l.contains("[ALERT]"))
        .map(mask_pid)
        .collect();

    let ns = Ns::new("hacnbe");
    let running = Arc::new(AtomicBool::new(true));
    let web = web(&ns, running.clone());
    let log = dir.join("log");
    let stderr = dir.join("stderr");
    let mut daemon = Daemon::haproxy_db(
        &ns,
        program,
        &cfg,
        Stdio::from(std::fs::File::create(&log).unwrap()),
        Stdio::from(std::fs::File::create(&stderr).unwrap()),
    );
    ns.wait_for_port("127.0.0.1:8090");
    // Each frontend's first connection, after the readiness probe's (logged on its own).
    sleep_ms(200);
    let metrics = fetch(
        &ns,
        8405,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let prometheus_other = fetch(
        &ns,
        8405,
        "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let routed = fetch(
        &ns,
        8080,
        "GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let unrouted = fetch(
        &ns,
        8080,
        "GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let keep_alive = fetch(
        &ns,
        8080,
        "GET /x HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let stats = fetch(
        &ns,
        8081,
        "GET /stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let stats_other = fetch(
        &ns,
        8081,
        "GET /y HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let tcp_with_data = tcp_client(&ns, b"hello\n");
    let tcp_silent = tcp_client(&ns, b"");
    sleep_ms(200);
    let pid = nix::unistd::Pid::from_raw(i32::try_from(daemon.0.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
    sleep_ms(300);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGUSR1).unwrap();
    let stopped_at = Instant::now();
    let mut status = None;
    while stopped_at.elapsed() < Duration::from_secs(5) {
        if let Ok(Some(s)) = daemon.0.try_wait() {
            status = s.code();
            break;
        }
        sleep_ms(20);
    }
    running.store(false, Ordering::SeqCst);
    let _ = web.join();
    drop(daemon);
    Observed {
        check_status: check.status.code(),
        check_warnings,
        metrics_head: head_lines(&metrics),
        metrics_families: family_lines(&metrics),
        prometheus_other,
        routed,
        unrouted,
        keep_alive,
        stats_head: head_lines(&stats),
        stats_other,
        tcp_with_data,
        tcp_silent,
        log: std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            // The readiness probe's connection: the `mode tcp` frontend's first line.
            .skip(1)
            .map(log_shape)
            .collect(),
        stderr: std::fs::read_to_string(&stderr)
            .unwrap()
            .lines()
            .filter(|l| !l.contains("[NOTICE]"))
            .map(mask_pid)
            .collect(),
        status,
    }
}

#[test]
fn frontends_without_default_backend_run_as_haproxy_2_6() {
    if !can_run("frontend_without_backend_reference") {
        return;
    }
    let dir: PathBuf = std::env::temp_dir().join(format!("hacnbe-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let link = dir.join("haproxy");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_ha-compat"), &link).unwrap();
    let reference = play(Path::new(HAPROXY), &dir);
    let ours = play(&link, &dir);
    let _ = std::fs::remove_dir_all(&dir);

    // The scenario did what it is for, on the reference.
    assert_eq!(reference.check_status, Some(0), "{reference:?}");
    assert_eq!(reference.metrics_head[0], "HTTP/1.1 200 OK");
    assert!(reference.metrics_families.len() > 100, "{reference:?}");
    assert!(
        reference
            .prometheus_other
            .starts_with(b"HTTP/1.1 503 Service Unavailable\r\n"),
        "{reference:?}"
    );
    assert!(reference.routed.ends_with(b"\r\n\r\nok\n"), "{reference:?}");
    assert!(
        reference
            .log
            .iter()
            .any(|l| l.contains(" fe fe/<NOSRV> -1/-1/-1/-1/N 503 217 - - SC-- ")),
        "{:?}",
        reference.log
    );
    assert!(
        reference
            .stderr
            .iter()
            .any(|l| l.ends_with("Proxy fe stopped (cumulated conns: FE: 3, BE: 2).")),
        "{:?}",
        reference.stderr
    );

    let mut differences = Vec::new();
    let mut same = |what: &str, a: &dyn std::fmt::Debug, b: &dyn std::fmt::Debug| {
        let (a, b) = (format!("{a:?}"), format!("{b:?}"));
        if a != b {
            differences.push(format!("{what}:\n  reference {a}\n  ours      {b}"));
        }
    };
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    same(
        "haproxy -c exit code",
        &reference.check_status,
        &ours.check_status,
    );
    same(
        "haproxy -c warnings",
        &reference.check_warnings,
        &ours.check_warnings,
    );
    same("/metrics head", &reference.metrics_head, &ours.metrics_head);
    same(
        "/metrics families",
        &reference.metrics_families,
        &ours.metrics_families,
    );
    same(
        "exporter frontend, GET /",
        &text(&reference.prometheus_other),
        &text(&ours.prometheus_other),
    );
    same(
        "use_backend, routed",
        &text(&reference.routed),
        &text(&ours.routed),
    );
    same(
        "use_backend, not routed",
        &text(&reference.unrouted),
        &text(&ours.unrouted),
    );
    same(
        "503 then routed, kept alive",
        &text(&reference.keep_alive),
        &text(&ours.keep_alive),
    );
    same("stats page head", &reference.stats_head, &ours.stats_head);
    same(
        "stats frontend, another path",
        &text(&reference.stats_other),
        &text(&ours.stats_other),
    );
    same(
        "mode tcp, client sent data",
        &reference.tcp_with_data,
        &ours.tcp_with_data,
    );
    same(
        "mode tcp, client silent",
        &reference.tcp_silent,
        &ours.tcp_silent,
    );
    same("log lines", &reference.log, &ours.log);
    same("stderr", &reference.stderr, &ours.stderr);
    same("exit status", &reference.status, &ours.status);
    assert!(
        differences.is_empty(),
        "{} differences:\n{}",
        differences.len(),
        differences.join("\n")
    );
}
