//! The stats page's rate, maximum, time, abort and state-age columns against the real
//! HAProxy 2.6.12: the same configuration and the same timed traffic played to
//! `/usr/sbin/haproxy` and to ha-compat invoked as `haproxy`, each in a network
//! namespace of its own, then the `;csv` export compared column by column.
//!
//! The traffic: a burst of four requests on a backend of two `maxconn 1` servers that
//! answer in 200 ms (two wait in the backend queue), a client giving up on a server
//! that never answers, a server cutting its response body short, a `mode tcp`
//! session, a backend whose only server fails its checks, and after two idle seconds
//! three requests in a row, read at once.
//!
//! Compared exactly: `smax`, `qmax`, `lbtot`, `chkdown`, `cli_abrt`, `srv_abrt`,
//! `rate`, `rate_max`, `req_rate`, `req_rate_max`, `conn_rate`, `conn_rate_max`,
//! `stot`, `req_tot`. Within 60 ms: `qtime`, `ctime`, `rtime`, `ttime` and their
//! maxima (the servers' 200 ms are the same, the machine's scheduling is not). Within
//! one second: `lastchg` and `downtime`.
//!
//! Needs root and haproxy (`apt-get install -y haproxy`); skipped with a message otherwise.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

mod common;

use common::{can_run, sleep_ms, AfterGreeting, Daemon, Ns, Web, HAPROXY};

const CFG: &str = "\
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    timeout queue 5s
listen stats
    bind 127.0.0.1:8404
    stats enable
    stats uri /st
frontend fe
    bind 127.0.0.1:8080
    use_backend hang if { path_beg /hang }
    use_backend cut if { path_beg /cut }
    default_backend web
backend web
    server s1 127.0.0.1:9001 maxconn 1
    server s2 127.0.0.1:9002 maxconn 1
    server s3 127.0.0.1:9003 check inter 300 fall 1 rise 1
backend hang
    server h1 127.0.0.1:9005
backend cut
    server c1 127.0.0.1:9006
backend dead
    server d1 127.0.0.1:9003 check inter 300 fall 1 rise 1
listen tcpfe
    bind 127.0.0.1:8090
    mode tcp
    server t1 127.0.0.1:9004
";

/// How a toy server treats a request it has read.
#[derive(Clone, Copy)]
enum Behaviour {
    /// Answers 200 with a 3-byte body after 200 ms, and closes.
    Slow,
    /// Never answers; holds the connection until the peer closes.
    Hang,
    /// Announces 100 bytes, sends 10 and closes.
    Cut,
}

struct Webs {
    running: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Webs {
    fn start(ns: &Ns) -> Webs {
        let running = Arc::new(AtomicBool::new(true));
        let mut threads = Vec::new();
        for (port, behaviour) in [
            (9001u16, Behaviour::Slow),
            (9002, Behaviour::Slow),
            (9005, Behaviour::Hang),
            (9006, Behaviour::Cut),
        ] {
            let flag = running.clone();
            let (ready_tx, ready_rx) = std::sync::mpsc::channel();
            threads.push(ns.spawn(move || {
                let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
                listener.set_nonblocking(true).unwrap();
                ready_tx.send(()).unwrap();
                while flag.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((s, _)) => {
                            std::thread::spawn(move || serve(s, behaviour));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(2)),
                    }
                }
            }));
            ready_rx.recv().unwrap();
        }
        Webs { running, threads }
    }
}

fn serve(mut s: TcpStream, behaviour: Behaviour) {
    let _ = s.set_nonblocking(false);
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let mut buf = [0u8; 4096];
    let mut got = Vec::new();
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(n) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => return,
        }
    }
    match behaviour {
        Behaviour::Slow => {
            sleep_ms(200);
            let _ = s.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: close\r\n\r\nok\n",
            );
        }
        Behaviour::Hang => while matches!(s.read(&mut buf), Ok(n) if n > 0) {},
        Behaviour::Cut => {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789");
        }
    }
}

impl Drop for Webs {
    fn drop(&mut self) {
        self.running.store(false, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Sends `request` to `port` in the namespace; reads until the peer closes, or only
/// `hold_ms` then closes when given.
fn exchange(ns: &Ns, port: u16, request: String, hold_ms: Option<u64>) -> Vec<u8> {
    ns.spawn(move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(4))).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut got = Vec::new();
        match hold_ms {
            Some(ms) => sleep_ms(ms),
            None => {
                let _ = s.read_to_end(&mut got);
            }
        }
        got
    })
    .join()
    .unwrap()
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: lb\r\nConnection: close\r\n\r\n")
}

/// The CSV export: `(row name, column name → value)`, the stats proxy's own rows left
/// out (their counts include the page being read).
fn csv(ns: &Ns) -> Vec<(String, Vec<(String, String)>)> {
    let raw = exchange(ns, 8404, get("/st;csv"), None);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut data = String::new();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut rest = body;
        while let Some((size, after)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 || after.len() < n {
                break;
            }
            data.push_str(&after[..n]);
            rest = after[n..].strip_prefix("\r\n").unwrap_or(&after[n..]);
        }
    } else {
        data = body.to_string();
    }
    let mut lines = data.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap_or("")
        .trim_start_matches("# ")
        .split(',')
        .map(str::to_string)
        .collect();
    lines
        .filter(|l| !l.is_empty() && !l.starts_with("stats,"))
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            let name = format!("{}/{}", fields[0], fields.get(1).unwrap_or(&""));
            let columns = header
                .iter()
                .zip(fields.iter())
                .map(|(h, v)| (h.clone(), (*v).to_string()))
                .collect();
            (name, columns)
        })
        .collect()
}

type Rows = Vec<(String, Vec<(String, String)>)>;

struct Observed {
    /// After the burst, the abort, the cut and the tcp session, and 2 s idle.
    settled: Rows,
    /// Right after three requests in a row.
    after_run: Rows,
    /// What the client of the cut response got (the announced length never came).
    cut: String,
}

fn play(program: &Path, dir: &Path) -> Observed {
    let ns = Ns::new("hactr");
    let cfg = dir.join("haproxy.cfg");
    std::fs::write(&cfg, CFG).unwrap();
    let _webs = Webs::start(&ns);
    let _tcp = Web::start(&ns, 9004, "t1", AfterGreeting::Close);
    let _daemon = Daemon::haproxy_db(&ns, program, &cfg, Stdio::null(), Stdio::null());
    ns.wait_for_port("127.0.0.1:8080");
    ns.wait_for_port("127.0.0.1:8404");
    // The checks of s3 and d1 find 9003 closed within their first 300 ms.
    sleep_ms(1200);
    // Four at once on two `maxconn 1` servers: two wait in the backend queue.
    let burst: Vec<_> = (0..4)
        .map(|_| {
            let ns_name = ns.0.clone();
            std::thread::spawn(move || {
                let path = format!("/run/netns/{ns_name}");
                let file = std::fs::File::open(&path).unwrap();
                nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
                let mut s = TcpStream::connect(("127.0.0.1", 8080)).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(4))).unwrap();
                s.write_all(get("/").as_bytes()).unwrap();
                let mut got = Vec::new();
                let _ = s.read_to_end(&mut got);
                got
            })
        })
        .collect();
    for t in burst {
        let got = t.join().unwrap();
        assert!(
            got.starts_with(b"HTTP/1.1 200"),
            "{:?}",
            String::from_utf8_lossy(&got)
        );
    }
    // The next events fall in later rate periods than the burst.
    sleep_ms(1100);
    exchange(&ns, 8080, get("/hang"), Some(300));
    sleep_ms(300);
    let cut = String::from_utf8_lossy(&exchange(&ns, 8080, get("/cut"), None)).into_owned();
    exchange(&ns, 8090, String::new(), None);
    sleep_ms(2100);
    let settled = csv(&ns);
    for _ in 0..3 {
        exchange(&ns, 8080, get("/"), None);
    }
    let after_run = csv(&ns);
    Observed {
        settled,
        after_run,
        cut: cut.lines().next().unwrap_or("").to_string(),
    }
}

const EXACT: &[&str] = &[
    "stot",
    "req_tot",
    "smax",
    "qmax",
    "lbtot",
    "chkdown",
    "cli_abrt",
    "srv_abrt",
    "rate",
    "rate_max",
    "req_rate",
    "req_rate_max",
    "conn_rate",
    "conn_rate_max",
];
const TIMES: &[&str] = &[
    "qtime",
    "ctime",
    "rtime",
    "ttime",
    "qtime_max",
    "ctime_max",
    "rtime_max",
    "ttime_max",
];
const AGES: &[&str] = &["lastchg", "downtime"];

fn compare(label: &str, reference: &Rows, ours: &Rows, differences: &mut Vec<String>) {
    let names = |rows: &Rows| rows.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    if names(reference) != names(ours) {
        differences.push(format!(
            "{label}: rows\n  reference {:?}\n  ours      {:?}",
            names(reference),
            names(ours)
        ));
        return;
    }
    for ((row, theirs), (_, mine)) in reference.iter().zip(ours) {
        let value = |cols: &Vec<(String, String)>, name: &str| {
            cols.iter()
                .find(|(h, _)| h == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let check = |name: &str, tolerance: Option<i64>| -> Option<String> {
            let (a, b) = (value(theirs, name), value(mine, name));
            let same = match tolerance {
                None => a == b,
                Some(t) => match (a.parse::<i64>(), b.parse::<i64>()) {
                    (Ok(x), Ok(y)) => (x - y).abs() <= t,
                    _ => a == b,
                },
            };
            (!same).then(|| format!("{label}: {row} {name}: reference {a:?}, ours {b:?}"))
        };
        for name in EXACT {
            differences.extend(check(name, None));
        }
        for name in TIMES {
            differences.extend(check(name, Some(60)));
        }
        for name in AGES {
            differences.extend(check(name, Some(1)));
        }
    }
}

#[test]
fn stats_rates_times_and_aborts_count_like_haproxy_2_6() {
    if !can_run("stats_counters_reference") {
        return;
    }
    let dir: PathBuf = std::env::temp_dir().join(format!("hactr-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let link = dir.join("haproxy");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_ha-compat"), &link).unwrap();
    let reference = play(Path::new(HAPROXY), &dir);
    // `STATS_COUNTERS_SHOW=1`: print the reference's compared columns.
    if std::env::var_os("STATS_COUNTERS_SHOW").is_some() {
        for (row, cols) in reference.settled.iter().chain(&reference.after_run) {
            let shown: Vec<String> = cols
                .iter()
                .filter(|(h, _)| {
                    EXACT.contains(&h.as_str())
                        || TIMES.contains(&h.as_str())
                        || AGES.contains(&h.as_str())
                })
                .filter(|(_, v)| !v.is_empty())
                .map(|(h, v)| format!("{h}={v}"))
                .collect();
            println!("{row}: {}", shown.join(" "));
        }
    }
    let ours = play(&link, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    // The scenario did what it is for, on the reference: the queue was used, the
    // client abort and the cut body were counted, the dead backend went down.
    let at = |rows: &Rows, row: &str, name: &str| {
        rows.iter()
            .find(|(n, _)| n == row)
            .and_then(|(_, c)| c.iter().find(|(h, _)| h == name))
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(at(&reference.settled, "web/BACKEND", "qmax"), "2");
    assert_eq!(at(&reference.settled, "fe/FRONTEND", "req_rate_max"), "4");
    assert_eq!(at(&reference.settled, "dead/BACKEND", "chkdown"), "1");
    assert_eq!(at(&reference.settled, "cut/BACKEND", "srv_abrt"), "1");
    assert_eq!(at(&reference.after_run, "fe/FRONTEND", "req_rate"), "3");
    let rtime: u32 = at(&reference.settled, "web/BACKEND", "rtime")
        .parse()
        .unwrap();
    assert!((190..300).contains(&rtime), "rtime {rtime}");
    assert_eq!(reference.cut, ours.cut);
    let mut differences = Vec::new();
    compare(
        "settled",
        &reference.settled,
        &ours.settled,
        &mut differences,
    );
    compare(
        "after the run",
        &reference.after_run,
        &ours.after_run,
        &mut differences,
    );
    assert!(
        differences.is_empty(),
        "{} differences:\n{}",
        differences.len(),
        differences.join("\n")
    );
}
