//! Server connection reuse in `mode http` (`http-reuse never/safe/aggressive/always`,
//! `pool-max-conn`, `pool-purge-delay`, `retry-on`) against the real HAProxy 2.6.12:
//! one configuration (`nbthread 1`: HAProxy keeps its idle lists per thread, ha-compat
//! one per server), one frontend and backend per scenario, each scenario a sequence of
//! client connections and requests, played to `/usr/sbin/haproxy` and to ha-compat
//! invoked as `haproxy`, each in a network namespace of its own.
//!
//! The web server is the test's own: it numbers its connections and records each
//! request line and each close as `[cN] ...`, `N` then replaced by the connection's rank
//! within the scenario, so which requests shared a server connection, and which
//! connections were closed when, is compared. Compared per scenario: that record, what
//! each client received (byte for byte), the `httplog` lines (dates, ports, timers
//! masked), and right after it the stats page's pool fields of the scenario's servers
//! (`connect`, `reuse`, `idle_conn_cur`, `safe_conn_cur`, `used_conn_cur`,
//! `need_conn_est`).
//!
//! Needs root and haproxy (`apt-get install -y haproxy`); skipped with a message otherwise.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod common;

use common::{can_run, sleep_ms, Daemon, Ns, HAPROXY};

const CFG: &str = "\
global
    log stdout format raw local0
    nbthread 1
defaults
    mode http
    log global
    option httplog
    timeout connect 1s
    timeout client 5s
    timeout server 2s
frontend fe_safe
    bind 127.0.0.1:8090
    default_backend be_safe
backend be_safe
    server web 127.0.0.1:9001
frontend fe_never
    bind 127.0.0.1:8091
    default_backend be_never
backend be_never
    http-reuse never
    server web 127.0.0.1:9001
frontend fe_aggressive
    bind 127.0.0.1:8092
    default_backend be_aggressive
backend be_aggressive
    http-reuse aggressive
    server web 127.0.0.1:9001
frontend fe_always
    bind 127.0.0.1:8093
    default_backend be_always
backend be_always
    http-reuse always
    server web 127.0.0.1:9001
frontend fe_max0
    bind 127.0.0.1:8094
    default_backend be_max0
backend be_max0
    server web 127.0.0.1:9001 pool-max-conn 0
frontend fe_max1
    bind 127.0.0.1:8095
    default_backend be_max1
backend be_max1
    server web 127.0.0.1:9001 pool-max-conn 1
frontend fe_purge
    bind 127.0.0.1:8096
    default_backend be_purge
backend be_purge
    server web 127.0.0.1:9001 pool-purge-delay 400ms
frontend fe_post
    bind 127.0.0.1:8097
    default_backend be_post
backend be_post
    server web 127.0.0.1:9001
frontend fe_client_close
    bind 127.0.0.1:8098
    default_backend be_client_close
backend be_client_close
    server web 127.0.0.1:9001
frontend fe_abort
    bind 127.0.0.1:8099
    default_backend be_abort
backend be_abort
    server web 127.0.0.1:9001
frontend fe_server_close
    bind 127.0.0.1:8100
    default_backend be_server_close
backend be_server_close
    option http-server-close
    server web 127.0.0.1:9001
frontend fe_fifo
    bind 127.0.0.1:8101
    default_backend be_fifo
backend be_fifo
    server web 127.0.0.1:9001
frontend fe_retry
    bind 127.0.0.1:8102
    default_backend be_retry
backend be_retry
    retry-on conn-failure empty-response response-timeout
    server web 127.0.0.1:9001
frontend fe_ntlm
    bind 127.0.0.1:8103
    default_backend be_ntlm
backend be_ntlm
    server s1 127.0.0.1:9001
    server s2 127.0.0.1:9001
listen stats
    bind 127.0.0.1:8110
    stats enable
    stats uri /stats
";

/// Where a request head ends, with the body its `content-length` announces.
fn request_end(buf: &[u8]) -> Option<usize> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    (buf.len() >= head_end + length).then_some(head_end + length)
}

/// One web connection: `/empty` closes without answering, `/slowN` answers after N ms,
/// `/ntlm` gets a 401 asking for NTLM, anything else gets a 200 with a 2-byte body. Records `[cN] request line` and
/// `[cN] closed`.
fn serve_one(mut s: TcpStream, seen: &Mutex<Vec<String>>, conn: usize) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(20)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        while let Some(end) = request_end(&buf) {
            let request: Vec<u8> = buf.drain(..end).collect();
            let text = String::from_utf8_lossy(&request);
            let line = text.lines().next().unwrap_or("").to_string();
            let path = line.split(' ').nth(1).unwrap_or("").to_string();
            seen.lock().unwrap().push(format!("[c{conn}] {line}"));
            if path == "/empty" {
                seen.lock().unwrap().push(format!("[c{conn}] closed"));
                return;
            }
            if let Some(ms) = path.strip_prefix("/slow") {
                sleep_ms(ms.parse().unwrap_or(0));
            }
            let answer: &[u8] = if path == "/ntlm" {
                b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: NTLM\r\nContent-Length: 0\r\n\r\n"
            } else {
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
            };
            let _ = s.write_all(answer);
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => {
                seen.lock().unwrap().push(format!("[c{conn}] closed"));
                return;
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// The test's web server on 127.0.0.1:9001.
struct Web {
    running: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Web {
    fn start(ns: &Ns) -> Web {
        let running = Arc::new(AtomicBool::new(true));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (flag, log) = (running.clone(), seen.clone());
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        ns.spawn(move || {
            let listener = TcpListener::bind("127.0.0.1:9001").unwrap();
            listener.set_nonblocking(true).unwrap();
            ready_tx.send(()).unwrap();
            let mut conns = 0;
            while flag.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((s, _)) => {
                        let _ = s.set_nonblocking(false);
                        let log = log.clone();
                        conns += 1;
                        let conn = conns;
                        std::thread::spawn(move || serve_one(s, &log, conn));
                    }
                    Err(_) => sleep_ms(2),
                }
            }
        });
        ready_rx.recv().unwrap();
        Web { running, seen }
    }
}

impl Drop for Web {
    fn drop(&mut self) {
        self.running.store(false, Ordering::SeqCst);
    }
}

/// What a scenario's client side does, in order.
#[derive(Clone)]
enum Step {
    /// Client `name` (connecting first if it is new) sends the bytes and reads the
    /// answer until 300 ms of quiet (or the close).
    Send(&'static str, String),
    /// Sends without reading.
    SendOnly(&'static str, String),
    /// Reads what came, until 300 ms of quiet.
    Read(&'static str),
    Close(&'static str),
    Sleep(u64),
}

struct Scenario {
    name: &'static str,
    port: u16,
    steps: Vec<Step>,
}

fn get(client: &'static str, path: &str) -> Step {
    Step::Send(
        client,
        format!("GET {path} HTTP/1.1\r\nHost: lb\r\nUser-Agent: t\r\n\r\n"),
    )
}

fn post(client: &'static str, path: &str) -> Step {
    Step::Send(
        client,
        format!("POST {path} HTTP/1.1\r\nHost: lb\r\nContent-Length: 5\r\n\r\nhello"),
    )
}

fn scenarios() -> Vec<Scenario> {
    use Step::{Close, Read, SendOnly, Sleep};
    let two_clients = || {
        vec![
            get("a", "/1"),
            get("a", "/2"),
            Close("a"),
            get("b", "/3"),
            get("b", "/4"),
            get("b", "/5"),
        ]
    };
    vec![
        Scenario {
            name: "safe: a second client's later requests take the first client's connection",
            port: 8090,
            steps: two_clients(),
        },
        Scenario {
            name: "never: server connections stay with their client and close with it",
            port: 8091,
            steps: two_clients(),
        },
        Scenario {
            name: "aggressive: a first request takes a connection that served twice only",
            port: 8092,
            steps: vec![
                get("a", "/1"),
                Close("a"),
                get("b", "/2"),
                get("b", "/3"),
                Close("b"),
                get("c", "/4"),
            ],
        },
        Scenario {
            name: "always: a first request takes any idle connection",
            port: 8093,
            steps: vec![get("a", "/1"), Close("a"), get("b", "/2"), get("b", "/3")],
        },
        Scenario {
            name: "pool-max-conn 0: a new connection per request, closed after it",
            port: 8094,
            steps: vec![get("a", "/1"), get("a", "/2"), get("b", "/3")],
        },
        Scenario {
            name: "pool-max-conn 1: one idle connection per server",
            port: 8095,
            steps: vec![
                get("a", "/1"),
                get("a", "/2"),
                get("b", "/3"),
                get("a", "/4"),
                get("b", "/5"),
                Close("a"),
                get("b", "/6"),
            ],
        },
        Scenario {
            name: "pool-purge-delay 400ms: the idle connection is purged on the third pass",
            port: 8096,
            steps: vec![
                get("a", "/1"),
                get("a", "/2"),
                Close("a"),
                Sleep(1800),
                get("b", "/3"),
                get("b", "/4"),
            ],
        },
        Scenario {
            name: "a post takes an idle connection like any request",
            port: 8097,
            steps: vec![
                get("a", "/1"),
                post("a", "/2"),
                Close("a"),
                post("b", "/3"),
                post("b", "/4"),
                get("b", "/5"),
            ],
        },
        Scenario {
            name: "a closing client's server connection goes to the pool",
            port: 8098,
            steps: vec![
                Step::Send(
                    "a",
                    "GET /1 HTTP/1.1\r\nHost: lb\r\nConnection: close\r\n\r\n".into(),
                ),
                get("b", "/2"),
                get("b", "/3"),
                Step::Send("c", "GET /4 HTTP/1.0\r\n\r\n".into()),
                // The server connection of /4 closes on its own (HTTP/1.0): let it
                // close before /5 goes out, or the web sees the two in either order.
                Sleep(200),
                get("b", "/5"),
            ],
        },
        Scenario {
            name: "the server closes on a later request: the client is closed, nothing logged",
            port: 8099,
            steps: vec![
                get("a", "/1"),
                get("a", "/empty"),
                get("b", "/2"),
                get("b", "/3"),
            ],
        },
        Scenario {
            name: "http-server-close: nothing is pooled",
            port: 8100,
            steps: vec![get("a", "/1"), get("a", "/2"), Close("a"), get("b", "/3")],
        },
        Scenario {
            name: "oldest first: the idle list, then the safe list",
            port: 8101,
            steps: vec![
                SendOnly("a", "GET /slow200 HTTP/1.1\r\nHost: lb\r\n\r\n".into()),
                Sleep(50),
                SendOnly("b", "GET /slow600 HTTP/1.1\r\nHost: lb\r\n\r\n".into()),
                Read("a"),
                Read("b"),
                get("c", "/3"),
                get("c", "/4"),
                get("d", "/5"),
                get("d", "/6"),
                get("e", "/7"),
                get("e", "/8"),
            ],
        },
        Scenario {
            name: "retry-on with empty-response and response-timeout: first requests reuse",
            port: 8102,
            steps: vec![get("a", "/1"), Close("a"), get("b", "/2")],
        },
        Scenario {
            name: "ntlm: the connection becomes the client's own, its server preferred",
            port: 8103,
            steps: vec![
                get("a", "/1"),
                get("a", "/ntlm"),
                get("a", "/3"),
                get("a", "/4"),
                get("b", "/5"),
                get("b", "/6"),
                get("b", "/7"),
                get("a", "/8"),
                Close("a"),
                get("b", "/9"),
            ],
        },
    ]
}

/// Plays a scenario from inside the namespace: per step, what the client received.
fn play_steps(ns: &Ns, scenario: &Scenario) -> Vec<String> {
    let port = scenario.port;
    let steps = scenario.steps.clone();
    ns.spawn(move || {
        let mut clients: HashMap<&'static str, TcpStream> = HashMap::new();
        let mut out = Vec::new();
        let read_quiet = |s: &mut TcpStream| {
            s.set_read_timeout(Some(Duration::from_millis(300)))
                .unwrap();
            let mut got = Vec::new();
            let mut chunk = [0u8; 16384];
            loop {
                match s.read(&mut chunk) {
                    Ok(0) => {
                        got.extend_from_slice(b"<closed>");
                        break;
                    }
                    Ok(n) => got.extend_from_slice(&chunk[..n]),
                    Err(_) => break,
                }
            }
            String::from_utf8_lossy(&got).into_owned()
        };
        for step in steps {
            match &step {
                Step::Send(name, bytes) | Step::SendOnly(name, bytes) => {
                    let name = *name;
                    let wait = matches!(step, Step::Send(..));
                    let s = clients
                        .entry(name)
                        .or_insert_with(|| TcpStream::connect(("127.0.0.1", port)).unwrap());
                    let _ = s.write_all(bytes.as_bytes());
                    if wait {
                        out.push(format!("{name}: {}", read_quiet(s)));
                    }
                }
                Step::Read(name) => {
                    let name = *name;
                    let s = clients.get_mut(name).unwrap();
                    // The slow answers come within a second.
                    s.set_read_timeout(Some(Duration::from_millis(1000)))
                        .unwrap();
                    let mut got = Vec::new();
                    let mut chunk = [0u8; 16384];
                    if let Ok(n) = s.read(&mut chunk) {
                        got.extend_from_slice(&chunk[..n]);
                    }
                    out.push(format!("{name}: {}", String::from_utf8_lossy(&got)));
                }
                Step::Close(name) => {
                    clients.remove(*name);
                    sleep_ms(100);
                }
                Step::Sleep(ms) => sleep_ms(*ms),
            }
        }
        out
    })
    .join()
    .unwrap()
}

/// `[cN] ...` lines of the connections first seen in this scenario, `N` replaced by
/// the connection's rank among them (closes of earlier scenarios' connections left
/// out).
fn by_connection_rank(seen: &[String]) -> Vec<String> {
    let mut order: Vec<String> = Vec::new();
    seen.iter()
        .filter_map(|line| {
            let (tag, rest) = line.split_once(' ').unwrap();
            let rank = match order.iter().position(|t| t == tag) {
                Some(r) => r,
                None if rest == "closed" => return None,
                None => {
                    order.push(tag.to_string());
                    order.len() - 1
                }
            };
            Some(format!("[c{rank}] {rest}"))
        })
        .collect()
}

/// The log lines of the scenarios (not of the stats page reads between them).
fn log_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains('"') && !l.contains(" stats/<STATS> "))
        .map(mask_log)
        .collect()
}

/// Dates, client ports, timer values masked (which timers are -1 kept).
fn mask_log(line: &str) -> String {
    line.split(' ')
        .enumerate()
        .map(|(i, word)| {
            if i == 0 {
                word.split(':').next().unwrap_or("").to_string() + ":PORT"
            } else if word.starts_with('[') && word.ends_with(']') {
                "[DATE]".to_string()
            } else if i == 4 && word.contains('/') {
                word.split('/')
                    .map(|t| if t == "-1" { "-1" } else { "T" })
                    .collect::<Vec<_>>()
                    .join("/")
            } else {
                word.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Per scenario: its name, what the clients got, what the web saw, the log lines.
type Observed = Vec<(String, Vec<String>, Vec<String>, Vec<String>)>;

fn play(program: &Path, dir: &Path) -> Observed {
    let ns = Ns::new("hareuse");
    let cfg = dir.join("haproxy.cfg");
    std::fs::write(&cfg, CFG).unwrap();
    let web = Web::start(&ns);
    let stdout = dir.join(format!("{}.out", ns.0));
    let _daemon = Daemon::haproxy_db(
        &ns,
        program,
        &cfg,
        std::fs::File::create(&stdout).unwrap().into(),
        Stdio::null(),
    );
    ns.wait_for_port("127.0.0.1:8103");
    let up = ns
        .spawn(|| TcpStream::connect("127.0.0.1:8103").is_ok())
        .join()
        .unwrap();
    assert!(
        up,
        "{} did not start: {}",
        program.display(),
        std::fs::read_to_string(&stdout).unwrap_or_default()
    );
    sleep_ms(200);
    let mut out = Vec::new();
    let mut logged = log_lines(&stdout).len();
    for scenario in scenarios() {
        let before = web.seen.lock().unwrap().len();
        let got = play_steps(&ns, &scenario);
        sleep_ms(300);
        let seen = by_connection_rank(&web.seen.lock().unwrap()[before..]);
        let logs = log_lines(&stdout);
        let new = logs[logged.min(logs.len())..].to_vec();
        logged = logs.len();
        let mut new = new;
        new.extend(pool_stats(&ns, scenario.port));
        out.push((scenario.name.to_string(), got, seen, new));
    }
    out
}

#[test]
fn server_connections_are_reused_like_haproxy_2_6() {
    if !can_run("http_reuse_reference") {
        return;
    }
    let dir: PathBuf = std::env::temp_dir().join(format!("hareuse-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let link = dir.join("haproxy");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_ha-compat"), &link).unwrap();
    let reference = play(Path::new(HAPROXY), &dir);
    let ours = play(&link, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    if std::env::var_os("SHOW_REFERENCE").is_some() {
        for r in &reference {
            eprintln!(
                "{}\n  clients {:?}\n  web {:?}\n  log {:?}",
                r.0, r.1, r.2, r.3
            );
        }
    }
    let mut differences = Vec::new();
    for (r, o) in reference.iter().zip(&ours) {
        for (what, a, b) in [
            ("clients got", &r.1, &o.1),
            ("web saw", &r.2, &o.2),
            ("logged", &r.3, &o.3),
        ] {
            if a != b {
                differences.push(format!(
                    "{}: {what}\n  reference {a:?}\n  ours      {b:?}",
                    r.0
                ));
            }
        }
    }
    assert!(
        differences.is_empty(),
        "{} differences:\n{}",
        differences.len(),
        differences.join("\n")
    );
}

/// The stats page's pool fields of the servers behind frontend `port` (its backend is
/// `be_` + the frontend's name after `fe_`), from `;csv`.
fn pool_stats(ns: &Ns, port: u16) -> Vec<String> {
    let frontend = CFG
        .split("frontend ")
        .skip(1)
        .find(|section| section.contains(&format!("bind 127.0.0.1:{port}")))
        .and_then(|section| section.split_whitespace().next())
        .unwrap()
        .to_string();
    let backend = format!("be_{}", frontend.trim_start_matches("fe_"));
    let raw = ns
        .spawn(move || {
            let mut s = TcpStream::connect("127.0.0.1:8110").unwrap();
            s.write_all(b"GET /stats;csv HTTP/1.0\r\n\r\n").unwrap();
            let mut got = Vec::new();
            let _ = s.read_to_end(&mut got);
            got
        })
        .join()
        .unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or(("", ""));
    let csv = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        // Size line, data, CRLF.
        let mut csv = String::new();
        let mut rest = body;
        while let Some((size, after)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 || after.len() < n {
                break;
            }
            csv.push_str(&after[..n]);
            rest = after[n..].strip_prefix("\r\n").unwrap_or(&after[n..]);
        }
        csv
    } else {
        body.to_string()
    };
    let mut lines = csv.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap_or("")
        .trim_start_matches("# ")
        .split(',')
        .collect();
    let wanted = [
        "connect",
        "reuse",
        "idle_conn_cur",
        "safe_conn_cur",
        "used_conn_cur",
        "need_conn_est",
    ];
    lines
        .filter(|l| l.starts_with(&format!("{backend},")))
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            let mut out = format!("stats {}/{}", fields[0], fields[1]);
            for name in wanted {
                let value = header
                    .iter()
                    .position(|h| *h == name)
                    .and_then(|i| fields.get(i))
                    .unwrap_or(&"?");
                out.push_str(&format!(" {name}={value}"));
            }
            out
        })
        .collect()
}
