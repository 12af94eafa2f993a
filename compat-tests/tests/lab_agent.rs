//! End-to-end tests of the `lab-agent` binary on loopback (no namespaces, no root): the PING
//! service, raw requests, the syslog receiver, and the client's timeline read back with
//! `compat_tests::timeline`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use compat_tests::timeline::{self, Outcome};

const AGENT: &str = env!("CARGO_BIN_EXE_lab-agent");

/// A running agent, killed when dropped.
struct Agent(Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a long-running agent and waits for its `listening ADDR` line.
fn start_listening(args: &[&str]) -> (Agent, SocketAddr) {
    let mut child = Command::new(AGENT)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start lab-agent");
    let stdout = child.stdout.take().expect("piped stdout");
    let agent = Agent(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read lab-agent's stdout");
    let addr = line
        .strip_prefix("listening ")
        .unwrap_or_else(|| panic!("lab-agent {args:?} printed {line:?}"))
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("lab-agent {args:?} printed {line:?}: {e}"));
    (agent, addr)
}

fn agent(args: &[&str]) -> Output {
    Command::new(AGENT)
        .args(args)
        .output()
        .expect("run lab-agent")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lab-agent-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a temporary directory");
    dir
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_micros() as u64
}

/// Waits until `path` holds at least `lines` complete lines.
fn wait_for_lines(path: &Path, lines: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.matches('\n').count() >= lines || Instant::now() > deadline {
            return text;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a loopback port")
        .port()
}

#[test]
fn help_and_usage_errors() {
    let help = agent(&["help"]);
    assert_eq!(help.status.code(), Some(0));
    let text = String::from_utf8_lossy(&help.stdout);
    for cmd in ["client", "request", "pong", "syslog"] {
        assert!(text.contains(&format!("lab-agent {cmd} ")), "{text}");
    }
    for args in [
        &[][..],
        &["frobnicate"],
        &["pong", "--listen", "127.0.0.1:0"],
        &["pong", "--listen", "nope", "--name", "x"],
        &[
            "client",
            "--target",
            "127.0.0.1:1",
            "--mode",
            "udp",
            "--out",
            "/dev/null",
        ],
        &["request", "--target", "127.0.0.1:1", "--bogus", "1"],
        &["request", "--target", "127.0.0.1:1", "--send", "\\q"],
        &["syslog", "--udp"],
    ] {
        let out = agent(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("lab-agent: "),
            "{args:?}"
        );
    }
}

#[test]
fn ping_pong_round_trip() {
    let (_pong, addr) = start_listening(&["pong", "--listen", "127.0.0.1:0", "--name", "web7"]);
    let target = addr.to_string();
    // A health check's connect/close, and a client that leaves before the answer, do not
    // disturb the service.
    drop(TcpStream::connect(addr).unwrap());
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"PING").unwrap();
    drop(s);
    for _ in 0..2 {
        let out = agent(&["request", "--target", &target, "--send", "PING\\r\\n"]);
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(out.stdout, b"PONG web7\n");
    }
    // Not a PING: closed without an answer.
    let out = agent(&["request", "--target", &target, "--send", "HELLO\\n"]);
    assert_eq!((out.status.code(), out.stdout.len()), (Some(0), 0));
}

#[test]
fn request_is_byte_exact_and_half_closes() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut got = Vec::new();
        // Reads to EOF: only returns because the agent shuts down its write side.
        s.read_to_end(&mut got).unwrap();
        s.write_all(b"HTTP/1.1 503 x\r\n\r\n\0\xff\\tail").unwrap();
        got
    });
    let out = agent(&[
        "request",
        "--target",
        &addr.to_string(),
        "--send",
        "GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n\\x00\\\\",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout, b"HTTP/1.1 503 x\r\n\r\n\0\xff\\tail");
    assert_eq!(
        server.join().unwrap(),
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n\0\\"
    );
}

#[test]
fn request_refused_exits_3() {
    let target = format!("127.0.0.1:{}", free_port());
    let out = agent(&["request", "--target", &target, "--send", "PING\\r\\n"]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refused"), "{err}");
}

#[test]
fn syslog_writes_one_line_per_datagram() {
    let dir = temp_dir("syslog");
    let log = dir.join("haproxy.log");
    let (_syslog, addr) = start_listening(&[
        "syslog",
        "--udp",
        "127.0.0.1:0",
        "--out",
        log.to_str().unwrap(),
    ]);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let line = "<134>Nov 22 10:00:00 haproxy[123]: 10.0.0.5:4242 \
                [22/Nov/2026:10:00:00.123] fe be/web1 0/0/0/1/1 200 120 - - ---- 1/1/0/0/0 0/0";
    sock.send_to(format!("{line}\n").as_bytes(), addr).unwrap();
    sock.send_to(b"<134>two\nlines\n\0", addr).unwrap();
    sock.send_to(b"<134>bad \xff utf8", addr).unwrap();
    let text = wait_for_lines(&log, 3);
    assert_eq!(
        text,
        format!("{line}\n<134>two lines\n<134>bad \u{fffd} utf8\n")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A tiny HTTP server answering `web1` and `web2` alternately until `stop` is set, then closing
/// its listener.
fn alternating_server(stop: Arc<AtomicBool>) -> (SocketAddr, thread::JoinHandle<usize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let addr = listener.local_addr().expect("local address");
    listener
        .set_nonblocking(true)
        .expect("non-blocking listener");
    let handle = thread::spawn(move || {
        let mut served = 0;
        while !stop.load(Ordering::SeqCst) {
            let mut s = match listener.accept() {
                Ok((s, _)) => s,
                Err(_) => {
                    thread::sleep(Duration::from_millis(1));
                    continue;
                }
            };
            s.set_nonblocking(false).expect("blocking connection");
            s.set_read_timeout(Some(Duration::from_secs(2)))
                .expect("read timeout");
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            assert!(req.starts_with(b"GET /index HTTP/1.1\r\nHost: lab\r\n"));
            let name = if served % 2 == 0 { "web1" } else { "web2" };
            served += 1;
            let resp = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\n{name}\n"
            );
            let _ = s.write_all(resp.as_bytes());
        }
        served
    });
    (addr, handle)
}

#[test]
fn client_alternation_then_refused() {
    let dir = temp_dir("client");
    let out = dir.join("timeline.tsv");
    let stop = Arc::new(AtomicBool::new(false));
    let (addr, server) = alternating_server(Arc::clone(&stop));
    let started_us = now_us();
    let client = Agent(
        Command::new(AGENT)
            .args(["client", "--target", &addr.to_string(), "--mode", "http"])
            .args(["--interval-ms", "10", "--timeout-ms", "500"])
            .args(["--host", "lab", "--path", "/index"])
            .arg("--out")
            .arg(&out)
            .spawn()
            .unwrap(),
    );
    thread::sleep(Duration::from_millis(600));
    stop.store(true, Ordering::SeqCst);
    let served = server.join().unwrap();
    let stopped_us = now_us();
    thread::sleep(Duration::from_millis(400));
    drop(client);

    let records = timeline::read(&out).unwrap();
    let summary = timeline::summary(&records, 12);
    // ~100 requests per second.
    assert!((80..=110).contains(&records.len()), "{summary}");
    assert!(served >= 45, "served {served}; {summary}");

    let before = timeline::window(&records, started_us, stopped_us - 20_000);
    assert!(before.len() >= 45, "{summary}");
    assert!(timeline::all_ok(before), "{summary}");
    assert!(timeline::alternates(before), "{summary}");
    let counts = timeline::backends_in(before);
    let (w1, w2) = (counts["web1"], counts["web2"]);
    assert!(w1.abs_diff(w2) <= 1, "{counts:?}");
    assert_eq!(timeline::longest_run(before).unwrap().len, 1);

    let after = timeline::window(&records, stopped_us + 20_000, u64::MAX);
    assert!(after.len() >= 30, "{summary}");
    assert_eq!(
        timeline::outcomes(after).into_iter().collect::<Vec<_>>(),
        vec![("refused".to_string(), after.len())],
        "{summary}"
    );
    assert!(after.iter().all(|r| r.backend.is_none()));

    let outage = timeline::outage_after(&records, stopped_us).unwrap();
    assert!(
        matches!(outage.first_outcome, Outcome::Refused | Outcome::Reset),
        "{outage}"
    );
    assert_eq!(outage.recovered_us, None, "{outage}");
    assert!(outage.failed_requests >= 30, "{outage}");
    assert!(outage.first_failure_us <= stopped_us + 20_000, "{outage}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn client_ping_mode_against_pong() {
    let dir = temp_dir("ping");
    let out = dir.join("timeline.tsv");
    let (pong, addr) = start_listening(&["pong", "--listen", "127.0.0.1:0", "--name", "web2"]);
    let client = Agent(
        Command::new(AGENT)
            .args(["client", "--target", &addr.to_string(), "--mode", "ping"])
            .arg("--out")
            .arg(&out)
            .spawn()
            .unwrap(),
    );
    thread::sleep(Duration::from_millis(300));
    drop(pong);
    let killed_us = now_us();
    thread::sleep(Duration::from_millis(200));
    drop(client);
    let records = timeline::read(&out).unwrap();
    let summary = timeline::summary(&records, 8);
    let before = timeline::window(&records, 0, killed_us - 20_000);
    assert!(before.len() >= 20, "{summary}");
    assert!(timeline::all_ok(before), "{summary}");
    assert_eq!(
        timeline::backends_in(before)
            .into_iter()
            .collect::<Vec<_>>(),
        vec![("web2".to_string(), before.len())]
    );
    let after = timeline::window(&records, killed_us + 20_000, u64::MAX);
    assert_eq!(
        timeline::success_ratio(after),
        (0, after.len()),
        "{summary}"
    );
    assert!(
        after.iter().all(|r| r.outcome == Outcome::Refused),
        "{summary}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
