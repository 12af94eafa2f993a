//! The same haproxy.cfg and the same traffic through the real haproxy 2.6.12 and through
//! ours, each in its own namespace (`hapio-<pid>-<n>`, deleted on drop) with the same
//! backend servers and a UDP syslog receiver on 127.0.0.1: the tcplog lines must match
//! field for field except the client port, the date and the timers (which must agree on
//! being -1 or not, and the total time within a tolerance), and the syslog header must
//! have the same shape. The PROXY protocol bytes are checked the same way (the echo
//! server sends back what it received, header included).
//! Needs root and the haproxy binary; skipped otherwise.
#![allow(clippy::unwrap_used)]
#![cfg(target_os = "linux")]

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Ns;
use haproxy_conf::host::AnyAccounts;
use haproxy_conf::model::HaproxyConfig;
use haproxy_conf::{LoadOptions, NoResolver};
use proxy_engine::engine::{Engine, EngineEvents, Stop};
use proxy_engine::proxy_protocol;
use proxy_engine::traffic_log::LogClock;

const CFG: &str = "\
global
    log 127.0.0.1:5514 format raw local0
    log 127.0.0.1:5515 local1
defaults
    mode tcp
    log global
    option tcplog
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    retries 2
frontend probe
    bind 127.0.0.1:8000
    default_backend be_echo
frontend echo
    bind 127.0.0.1:8001
    default_backend be_echo
backend be_echo
    server s1 127.0.0.1:9001
frontend refused
    bind 127.0.0.1:8002
    default_backend be_refused
backend be_refused
    timeout connect 300ms
    server dead 127.0.0.1:9002
frontend clito
    bind 127.0.0.1:8003
    timeout client 300ms
    default_backend be_silent
backend be_silent
    server quiet 127.0.0.1:9003
frontend srvto
    bind 127.0.0.1:8004
    default_backend be_silent_short
backend be_silent_short
    timeout server 300ms
    server quiet 127.0.0.1:9003
frontend clifin
    bind 127.0.0.1:8005
    timeout client-fin 300ms
    default_backend be_bye
backend be_bye
    server bye 127.0.0.1:9005
frontend clirst
    bind 127.0.0.1:8006
    default_backend be_silent
frontend srvrst
    bind 127.0.0.1:8007
    default_backend be_rst
backend be_rst
    server rst 127.0.0.1:9007
frontend null
    bind 127.0.0.1:8008
    option dontlognull
    default_backend be_echo
frontend pp1
    bind 127.0.0.1:8009
    default_backend be_pp1
backend be_pp1
    server pp 127.0.0.1:9001 send-proxy
frontend pp2
    bind 127.0.0.1:8010
    default_backend be_pp2
backend be_pp2
    server pp 127.0.0.1:9001 send-proxy-v2
frontend accept
    bind 127.0.0.1:8011 accept-proxy
    default_backend be_echo
frontend conto
    bind 127.0.0.1:8012
    default_backend be_blackhole
backend be_blackhole
    timeout connect 200ms
    server hole 192.0.2.99:9
frontend abort
    bind 127.0.0.1:8013
    default_backend be_refused
frontend halfclose
    bind 127.0.0.1:8014
    default_backend be_echo
frontend badpp
    bind 127.0.0.1:8016 accept-proxy
    timeout client 300ms
    default_backend be_echo
frontend ka
    bind 127.0.0.1:8017
    option tcpka
    default_backend be_ka
backend be_ka
    option tcpka
    server s1 127.0.0.1:9001
frontend kaclient
    bind 127.0.0.1:8018
    option clitcpka
    default_backend be_echo
frontend tunnel
    bind 127.0.0.1:8019
    default_backend be_tunnel
backend be_tunnel
    timeout tunnel 400ms
    server quiet 127.0.0.1:9003
frontend redisp
    bind 127.0.0.1:8020
    default_backend be_redisp
backend be_redisp
    option redispatch
    server dead 127.0.0.1:9002
    server s1 127.0.0.1:9001
frontend quietok
    bind 127.0.0.1:8021
    option dontlog-normal
    default_backend be_echo
frontend seperr
    bind 127.0.0.1:8022
    option log-separate-errors
    default_backend be_rst
frontend nosrv
    bind 127.0.0.1:8023
    default_backend be_empty
backend be_empty
frontend clihold
    bind 127.0.0.1:8015
    timeout client 300ms
    default_backend be_hold
backend be_hold
    timeout server 1s
    server holder 127.0.0.1:9004
frontend bulk
    bind 127.0.0.1:8024
    #BULK
    default_backend be_bulk
backend be_bulk
    #BULK
    server s1 127.0.0.1:9001
";

/// [`CFG`] with kernel splicing (`option splice-request`, `splice-response`) on every
/// proxy but the bulk ones, which have `option splice-auto` instead (splicing once the
/// stream is fast).
fn splice_cfg() -> String {
    CFG.replace(
        "    retries 2\n",
        "    retries 2\n    option splice-request\n    option splice-response\n",
    )
    .replace(
        "    #BULK\n",
        "    no option splice-request\n    no option splice-response\n    option splice-auto\n",
    )
}

fn write_cfg(name: &str, text: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("hapio-{}-{name}.cfg", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.unix_path);
    }
}

fn load(path: &std::path::Path) -> HaproxyConfig {
    let env: BTreeMap<String, String> = BTreeMap::new();
    let options = LoadOptions {
        env: &env,
        features: haproxy_conf::version::FEATURES,
        resolver: &NoResolver,
        accounts: &AnyAccounts,
        host_files: false,
    };
    let loaded = haproxy_conf::load(&[path.to_path_buf()], &options);
    assert!(
        matches!(loaded.outcome, haproxy_conf::Outcome::Valid { .. }),
        "{:?}",
        loaded.outcome
    );
    loaded.config
}

// ------------------------------------------------------------------ the lab

/// Datagrams received, by port.
type Lines = Arc<Mutex<Vec<(u16, String)>>>;

/// One subject's namespace: backends, a blackhole route, a syslog receiver.
struct Lab {
    ns: Ns,
    lines: Lines,
    /// A unix datagram log socket (lines on "port" 0), like /dev/log.
    unix_path: std::path::PathBuf,
}

fn echo(mut c: TcpStream) {
    let mut buf = [0u8; 4096];
    loop {
        match c.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if c.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = c.shutdown(Shutdown::Write);
    // Wait for the peer's close before dropping, so nothing is reset.
    let _ = c.read(&mut buf);
}

fn silent(mut c: TcpStream) {
    let mut buf = [0u8; 4096];
    while matches!(c.read(&mut buf), Ok(n) if n > 0) {}
}

/// Reads until the FIN, then keeps the connection open for 3 s before closing.
fn hold(mut c: TcpStream) {
    let mut buf = [0u8; 4096];
    while matches!(c.read(&mut buf), Ok(n) if n > 0) {}
    std::thread::sleep(Duration::from_secs(3));
}

fn bye(mut c: TcpStream) {
    let _ = c.write_all(b"bye");
    // A full close right away: the server ends first.
}

fn reset(mut c: TcpStream) {
    let mut buf = [0u8; 16];
    let _ = c.read(&mut buf);
    socket2::SockRef::from(&c)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
}

impl Lab {
    fn new() -> Lab {
        let ns = Ns::new();
        // 192.0.2.0/24 goes to a veth whose peer never answers: connects time out.
        ns.ip(&["link", "add", "h0", "type", "veth", "peer", "name", "h1"]);
        ns.ip(&["addr", "add", "192.0.2.1/24", "dev", "h0"]);
        ns.ip(&["link", "set", "h0", "up"]);
        ns.ip(&["link", "set", "h1", "up"]);
        let servers: [(u16, fn(TcpStream)); 5] = [
            (9001, echo),
            (9003, silent),
            (9004, hold),
            (9005, bye),
            (9007, reset),
        ];
        for (port, handler) in servers {
            let (tx, rx) = std::sync::mpsc::channel();
            ns.spawn(move || {
                let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
                tx.send(()).unwrap();
                for c in listener.incoming().flatten() {
                    std::thread::spawn(move || handler(c));
                }
            });
            rx.recv().unwrap();
        }
        let lines: Lines = Arc::default();
        let unix_path = std::env::temp_dir().join(format!("{}.log.sock", ns.name));
        {
            let _ = std::fs::remove_file(&unix_path);
            let socket = std::os::unix::net::UnixDatagram::bind(&unix_path).unwrap();
            let lines = Arc::clone(&lines);
            std::thread::spawn(move || {
                let mut buf = [0u8; 65536];
                while let Ok(n) = socket.recv(&mut buf) {
                    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                    lines.lock().unwrap().push((0, text));
                }
            });
        }
        for port in [5514u16, 5515, 5516] {
            let (tx, rx) = std::sync::mpsc::channel();
            let lines = Arc::clone(&lines);
            ns.spawn(move || {
                let socket = UdpSocket::bind(("127.0.0.1", port)).unwrap();
                tx.send(()).unwrap();
                let mut buf = [0u8; 65536];
                while let Ok(n) = socket.recv(&mut buf) {
                    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                    lines.lock().unwrap().push((port, text));
                }
            });
            rx.recv().unwrap();
        }
        Lab {
            ns,
            lines,
            unix_path,
        }
    }

    /// Every datagram on `port`, in arrival order.
    fn all_lines(&self, port: u16) -> Vec<String> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| *p == port)
            .map(|(_, l)| l.clone())
            .collect()
    }

    /// Waits until `probe` (port 8000) answers.
    fn wait_ready(&self) {
        self.ns.enter(|| {
            let start = Instant::now();
            while TcpStream::connect("127.0.0.1:8000").is_err() {
                assert!(
                    start.elapsed() < Duration::from_secs(5),
                    "proxy never listened"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        std::thread::sleep(Duration::from_millis(200));
    }

    /// The datagrams of `port` whose tcplog frontend field is `frontend`.
    fn lines_of(&self, port: u16, frontend: &str) -> Vec<String> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, l)| *p == port && field_after_date(l) == Some(frontend))
            .map(|(_, l)| l.clone())
            .collect()
    }

    /// Waits up to 7 s for `count` lines of `frontend` on port 5514.
    fn wait_lines(&self, frontend: &str, count: usize) -> Vec<String> {
        let start = Instant::now();
        loop {
            let lines = self.lines_of(5514, frontend);
            if lines.len() >= count || start.elapsed() > Duration::from_secs(7) {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The word after `[date]` in a tcplog message (the frontend name).
fn field_after_date(line: &str) -> Option<&str> {
    let rest = &line[line.find("] ")? + 2..];
    rest.split(' ').next()
}

/// The real haproxy, killed and reaped on drop.
struct Reference(Child);

impl Drop for Reference {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_reference(lab: &Lab, cfg: &std::path::Path) -> Reference {
    let child = Command::new("ip")
        .args(["netns", "exec", &lab.ns.name, "haproxy", "-db", "-f"])
        .arg(cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let reference = Reference(child);
    lab.wait_ready();
    reference
}

/// The engine's messages (server state lines) are not what these scenarios compare.
struct Quiet;

impl EngineEvents for Quiet {
    fn warning(&self, _message: &str) {}
    fn alert(&self, _message: &str) {}
}

/// Ours, stopped (runtime dropped, every socket closed) on drop.
struct Ours {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Ours {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn start_ours(lab: &Lab, config: HaproxyConfig) -> Ours {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let thread = lab.ns.spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let engine = Engine::build(&config, LogClock::default()).unwrap();
            ready_tx.send(()).unwrap();
            engine
                .run(Arc::new(Quiet), async move {
                    let _ = stopped.await;
                    // The reference is killed: nothing to report.
                    Stop::Hard
                })
                .await;
        });
    });
    ready_rx.recv().unwrap();
    let ours = Ours {
        stop: Some(stop),
        thread: Some(thread),
    };
    lab.wait_ready();
    ours
}

// ------------------------------------------------------------------ traffic

/// What one scenario observed on the client side (must match between subjects, after
/// `normalise_echo`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    frontend: &'static str,
    received: Vec<u8>,
}

fn connect(port: u16) -> TcpStream {
    let c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c
}

fn read_all(c: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = c.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    out
}

/// Runs every scenario in order, one at a time (so `%ac`/`%fc` are 1), each client
/// closed before the line is awaited unless the scenario says otherwise.
fn traffic(lab: &Lab) -> Vec<Seen> {
    lab.ns.enter(|| {
        let mut seen = Vec::new();
        let mut record = |frontend: &'static str, received| {
            seen.push(Seen { frontend, received });
            // `quietok` (dontlog-normal) must log nothing: no line to wait for.
            lab.wait_lines(frontend, usize::from(frontend != "quietok"));
        };

        // Echo, then the client half-closes and the server follows: `--`.
        let mut c = connect(8001);
        c.write_all(b"hello").unwrap();
        let mut five = [0u8; 5];
        c.read_exact(&mut five).unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let rest = read_all(&mut c);
        drop(c);
        record("echo", [five.as_slice(), &rest].concat());

        // Refused twice more after the first attempt, 300 ms apart: `SC`, %rc 2.
        let mut c = connect(8002);
        c.write_all(b"x").unwrap();
        let got = read_all(&mut c);
        drop(c);
        record("refused", got);

        // The client says nothing more for `timeout client`: `cD`; the FIN forwarded to
        // the server makes it close, which ends the session.
        let mut c = connect(8003);
        c.write_all(b"x").unwrap();
        let got = read_all(&mut c);
        drop(c);
        record("clito", got);

        // The same, but the server keeps its side open after the FIN: the session lasts
        // until `timeout server` (1 s) and is still `cD`.
        let mut c = connect(8015);
        c.write_all(b"x").unwrap();
        let got = read_all(&mut c);
        drop(c);
        record("clihold", got);

        // The server says nothing for `timeout server`: `sD`; the client, sent a FIN,
        // keeps its side open, so the session goes on until `timeout client` (5 s).
        let mut c = connect(8004);
        c.write_all(b"x").unwrap();
        let got = read_all(&mut c);
        record("srvto", got);
        drop(c);

        // The server closes first; the client stays open past `timeout client-fin`.
        let mut c = connect(8005);
        let got = read_all(&mut c);
        record("clifin", got);
        drop(c);

        // The client resets: `CD`.
        let c = connect(8006);
        (&c).write_all(b"x").unwrap();
        std::thread::sleep(Duration::from_millis(100));
        socket2::SockRef::from(&c)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(c);
        record("clirst", Vec::new());

        // The server resets: `SD`.
        let mut c = connect(8007);
        c.write_all(b"x").unwrap();
        let got = read_all(&mut c);
        drop(c);
        record("srvrst", got);

        // dontlognull: the empty connection is not logged, the next one is.
        drop(connect(8008));
        std::thread::sleep(Duration::from_millis(200));
        let mut c = connect(8008);
        c.write_all(b"hello").unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let got = read_all(&mut c);
        drop(c);
        record("null", got);

        // send-proxy / send-proxy-v2: the echo server returns the header it got.
        for (frontend, port) in [("pp1", 8009u16), ("pp2", 8010)] {
            let mut c = connect(port);
            let me = c.local_addr().unwrap();
            let dst = SocketAddr::from(([127, 0, 0, 1], port));
            c.write_all(b"ping").unwrap();
            c.shutdown(Shutdown::Write).unwrap();
            let got = read_all(&mut c);
            drop(c);
            let expected_header = if port == 8009 {
                proxy_protocol::encode_v1(Some((me, dst)))
            } else {
                proxy_protocol::encode_v2(Some((me, dst)))
            };
            assert_eq!(
                got,
                [expected_header.as_slice(), b"ping"].concat(),
                "{frontend}: {:?}",
                String::from_utf8_lossy(&got)
            );
            record(frontend, b"header+ping".to_vec());
        }

        // accept-proxy: the log shows the address from the header.
        let mut c = connect(8011);
        c.write_all(b"PROXY TCP4 192.0.2.7 127.0.0.1 1234 8011\r\nhello")
            .unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let got = read_all(&mut c);
        drop(c);
        record("accept", got);

        // Connect timeouts (no answer from 192.0.2.99): `sC` without pauses.
        let mut c = connect(8012);
        c.write_all(b"x").unwrap();
        let got = read_all(&mut c);
        drop(c);
        record("conto", got);

        // The client leaves, having sent nothing, while we wait to retry: `CC`.
        let c = connect(8013);
        std::thread::sleep(Duration::from_millis(100));
        drop(c);
        record("abort", Vec::new());

        // accept-proxy refusals: each is an "embryonic" line `badpp/1: REASON`; the
        // client sees a reset when bytes were left unread, a close otherwise.
        let mut outcomes = Vec::new();
        for (data, close) in [
            (b"GET / HTTP/1.0\r\n\r\n".as_slice(), false),
            (b"PROXY TCP4 1.2.3.4", false),
            (b"PROXY TCP4 1.2.3.4 x\r\n", false),
            (b"PROXY TCP5 1.2.3.4 1.2.3.5 1 2\r\n", false),
            (b"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c", false),
            (b"", true),
            (b"", false),
        ] {
            let mut c = connect(8016);
            c.write_all(data).unwrap();
            if close {
                drop(c);
                outcomes.push("closed".to_string());
            } else {
                let mut buf = [0u8; 16];
                outcomes.push(match c.read(&mut buf) {
                    Ok(0) => "eof".to_string(),
                    Ok(n) => format!("{n} bytes"),
                    Err(e) => e.kind().to_string(),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        record("badpp/1:", outcomes.join(",").into_bytes());
        lab.wait_lines("badpp/1:", 7);

        // option tcpka / clitcpka: which of the proxy's sockets carry SO_KEEPALIVE
        // (`ss -o` shows a keepalive timer on them).
        for (frontend, port) in [("ka", 8017u16), ("kaclient", 8018)] {
            let mut c = connect(port);
            c.write_all(b"x").unwrap();
            c.read_exact(&mut [0u8; 1]).unwrap();
            let ss = Command::new("ss").args(["-tnoH"]).output().unwrap();
            let ss = String::from_utf8_lossy(&ss.stdout).into_owned();
            let with_keepalive = |needle: &str| {
                ss.lines()
                    .filter(|l| l.contains("keepalive"))
                    .filter(|l| {
                        l.split_whitespace().nth(3) == Some(needle)
                            || l.split_whitespace().nth(4) == Some(needle)
                    })
                    .count()
            };
            let client_side = with_keepalive(&format!("127.0.0.1:{port}"));
            let server_side = with_keepalive("127.0.0.1:9001");
            c.shutdown(Shutdown::Write).unwrap();
            read_all(&mut c);
            drop(c);
            record(
                frontend,
                format!("client-side {client_side}, server-side {server_side}").into_bytes(),
            );
        }

        // `timeout tunnel` replaces both idle timers once connected.
        let mut c = connect(8019);
        c.write_all(b"x").unwrap();
        let got = read_all(&mut c);
        drop(c);
        record("tunnel", got);

        // option redispatch with two active servers: the refused first attempt moves to
        // the other server at once (`+1`).
        let mut c = connect(8020);
        c.write_all(b"again").unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let got = read_all(&mut c);
        drop(c);
        record("redisp", got);

        // dontlog-normal: a clean session leaves no line (checked after the next one);
        // log-separate-errors: an `SD` session is logged at err (the 5515 header's PRI).
        let mut c = connect(8021);
        c.write_all(b"fine").unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let got = read_all(&mut c);
        drop(c);
        record("quietok", got);
        let mut c = connect(8022);
        c.write_all(b"x").unwrap();
        let got = read_all(&mut c);
        drop(c);
        record("seperr", got);

        // A backend without servers: `<NOSRV>`, `SC`.
        let mut c = connect(8023);
        c.write_all(b"x").unwrap();
        let got = read_all(&mut c);
        drop(c);
        record("nosrv", got);

        // Bulk both ways through the echo server, the client writing while it reads.
        let mut c = connect(8024);
        let data: Vec<u8> = (0..4_000_000u32).map(|i| (i % 251) as u8).collect();
        let mut w = c.try_clone().unwrap();
        let sent = data.clone();
        let writer = std::thread::spawn(move || {
            w.write_all(&sent).unwrap();
            w.shutdown(Shutdown::Write).unwrap();
        });
        let got = read_all(&mut c);
        writer.join().unwrap();
        drop(c);
        record(
            "bulk",
            format!("{} bytes, same: {}", got.len(), got == data).into_bytes(),
        );

        // Half-close with data after the client's FIN.
        let mut c = connect(8014);
        c.write_all(b"one").unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let got = read_all(&mut c);
        drop(c);
        record("halfclose", got);
        seen
    })
}

// ------------------------------------------------------------------ comparison

/// A tcplog message with what legitimately differs taken out: the client port (unless
/// it came from a PROXY header), the date, and the timers reduced to "-1 or not".
#[derive(Debug, Clone, PartialEq, Eq)]
struct Normalised {
    client: String,
    rest: Vec<String>,
    total_ms: i64,
}

fn normalise(line: &str) -> Normalised {
    let words: Vec<&str> = line.trim_end().split(' ').collect();
    assert_eq!(words.len(), 9, "{line}");
    let (ip, port) = words[0].rsplit_once(':').unwrap();
    let client = if ip == "127.0.0.1" {
        ip.to_string()
    } else {
        words[0].to_string()
    };
    let timers: Vec<i64> = words[4].split('/').map(|t| t.parse().unwrap()).collect();
    let _ = port;
    let mut rest: Vec<String> = vec![words[2].into(), words[3].into()];
    rest.push(format!(
        "Tw{} Tc{}",
        if timers[0] < 0 { "=-1" } else { ">=0" },
        if timers[1] < 0 { "=-1" } else { ">=0" }
    ));
    rest.extend(words[5..].iter().map(|w| w.to_string()));
    Normalised {
        client,
        rest,
        total_ms: timers[2],
    }
}

/// `<PRI>Mmm dd hh:mm:ss haproxy[PID]: ` -> `<PRI>TIME haproxy[PID]: `, checking the
/// shapes of the time and pid.
fn normalise_header(datagram: &str) -> String {
    let close = datagram.find('>').unwrap();
    let (pri, rest) = datagram.split_at(close + 1);
    let (time, rest) = rest.split_at(16);
    let t = time.as_bytes();
    assert!(
        t[3] == b' ' && t[6] == b' ' && t[9] == b':' && t[12] == b':' && t[15] == b' ',
        "{datagram}"
    );
    let rest = rest.strip_prefix("haproxy[").unwrap();
    let (pid, rest) = rest.split_once("]: ").unwrap();
    assert!(pid.bytes().all(|b| b.is_ascii_digit()), "{datagram}");
    format!(
        "{pri}TIME haproxy[PID]: {}",
        field_after_date(rest).unwrap()
    )
}

#[test]
fn tcplog_lines_match_the_reference_for_the_same_traffic() {
    compare_tcplog_lines("tcplog", CFG);
}

/// The same with `option splice-*`: haproxy 2.6.12 (built with LINUX_SPLICE) splices
/// too, so its lines and what the clients get are still the reference.
#[test]
fn tcplog_lines_match_the_reference_with_option_splice() {
    compare_tcplog_lines("tcplog-splice", &splice_cfg());
}

fn compare_tcplog_lines(name: &str, cfg: &str) {
    if !common::can_run("reference_io") || !common::have_haproxy("reference_io") {
        return;
    }
    let cfg_path = write_cfg(name, cfg);
    let config = load(&cfg_path);

    let ref_lab = Lab::new();
    let reference = start_reference(&ref_lab, &cfg_path);
    let ref_seen = traffic(&ref_lab);
    drop(reference);

    let our_lab = Lab::new();
    let ours = start_ours(&our_lab, config);
    let our_seen = traffic(&our_lab);
    drop(ours);
    let _ = std::fs::remove_file(&cfg_path);

    for seen in &ref_seen {
        eprintln!(
            "client saw ({}): {:?}",
            seen.frontend,
            String::from_utf8_lossy(&seen.received)
        );
    }
    assert_eq!(our_seen, ref_seen, "what the clients received");
    let mut report = String::new();
    let mut mismatches = Vec::new();
    for seen in &ref_seen {
        let theirs = ref_lab.lines_of(5514, seen.frontend);
        let mine = our_lab.lines_of(5514, seen.frontend);
        report.push_str(&format!("ref  {theirs:?}\nours {mine:?}\n"));
        if theirs.len() != mine.len() {
            mismatches.push(format!(
                "{}: {} lines vs {}",
                seen.frontend,
                theirs.len(),
                mine.len()
            ));
            continue;
        }
        if seen.frontend.ends_with(':') {
            let norm =
                |l: &Vec<String>| l.iter().map(|d| normalise_datagram(d)).collect::<Vec<_>>();
            if norm(&theirs) != norm(&mine) {
                mismatches.push(format!(
                    "{}:\n  ref  {theirs:?}\n  ours {mine:?}",
                    seen.frontend
                ));
            }
            continue;
        }
        for (t, m) in theirs.iter().zip(&mine) {
            let (mut t, mut m) = (normalise(t), normalise(m));
            if seen.frontend == "tunnel" {
                // Both tunnel timers expire in the same millisecond: the reference itself
                // reports `cD` or `sD` from one run to the next.
                for n in [&mut t, &mut m] {
                    for w in n.rest.iter_mut().filter(|w| *w == "cD" || *w == "sD") {
                        *w = "cD|sD".into();
                    }
                }
            }
            // Timers are the machine's; the pauses and timeouts they contain are not.
            let tolerance = 150 + t.total_ms / 5;
            if t.client != m.client
                || t.rest != m.rest
                || (t.total_ms - m.total_ms).abs() > tolerance
            {
                mismatches.push(format!("{}:\n  ref  {t:?}\n  ours {m:?}", seen.frontend));
            }
        }
        let theirs: Vec<String> = ref_lab
            .lines_of(5515, seen.frontend)
            .iter()
            .map(|d| normalise_header(d))
            .collect();
        let mine: Vec<String> = our_lab
            .lines_of(5515, seen.frontend)
            .iter()
            .map(|d| normalise_header(d))
            .collect();
        if theirs != mine {
            mismatches.push(format!(
                "{} syslog header: {theirs:?} vs {mine:?}",
                seen.frontend
            ));
        }
    }
    eprintln!("{report}");
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

const LOG_CFG: &str = "\
global
    log @UNIX@ local2
    log 127.0.0.1:5514 format rfc5424 local0
    log 127.0.0.1:5515 local1 notice
    log 127.0.0.1:5516 len 80 local3
    log-tag gtag
    log-send-hostname lb1
defaults
    mode tcp
    log global
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend probe
    bind 127.0.0.1:8000
    default_backend be_echo
frontend plain
    bind 127.0.0.1:8001
    default_backend be_echo
frontend tagged
    bind 127.0.0.1:8002
    option tcplog
    log-tag fetag
    default_backend be_echo
backend be_echo
    server s1 127.0.0.1:9001
";

/// What differs between two runs of the same traffic taken out of a datagram: times,
/// pids, client ports, dates, timers. Everything else (priority, host, tag, fields,
/// length cut) stays.
fn normalise_datagram(datagram: &str) -> String {
    let words: Vec<&str> = datagram.trim_end_matches('\n').split(' ').collect();
    let rfc5424 = words.first().is_some_and(|w| w.ends_with(">1"));
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let t = w.as_bytes();
        let n = if rfc5424 && i == 1 {
            "ISO-TIME".to_string()
        } else if rfc5424 && i == 4 && digits(w) {
            "PID".to_string()
        } else if t.len() == 8 && t[2] == b':' && t[5] == b':' {
            "HH:MM:SS".to_string()
        } else if let Some((tag, rest)) = w.split_once('[').filter(|(_, r)| r.ends_with("]:")) {
            let _ = rest;
            format!("{tag}[PID]:")
        } else if w.starts_with('[') && w.contains('/') {
            // (possibly cut by `len`)
            if w.ends_with(']') { "[DATE]" } else { "[DATE" }.to_string()
        } else if let Some(port) = w.strip_prefix("127.0.0.1:") {
            if digits(port) {
                "127.0.0.1:PORT".to_string()
            } else {
                w.to_string()
            }
        } else if w.split('/').count() == 3 && w.split('/').all(|p| p.parse::<i64>().is_ok()) {
            w.split('/')
                .map(|p| if p == "-1" { "-1" } else { "T" })
                .collect::<Vec<_>>()
                .join("/")
        } else {
            w.to_string()
        };
        out.push(n);
    }
    out.join(" ")
}

#[test]
fn log_targets_match_the_reference() {
    if !common::can_run("reference_io") || !common::have_haproxy("reference_io") {
        return;
    }
    let traffic = |lab: &Lab| {
        lab.ns.enter(|| {
            for port in [8001u16, 8002] {
                let mut c = connect(port);
                c.write_all(b"hello").unwrap();
                c.shutdown(Shutdown::Write).unwrap();
                assert_eq!(read_all(&mut c), b"hello");
            }
        });
        std::thread::sleep(Duration::from_millis(500));
    };
    let cfg_for = |lab: &Lab, name: &str| {
        write_cfg(
            name,
            &LOG_CFG.replace("@UNIX@", &lab.unix_path.display().to_string()),
        )
    };

    let ref_lab = Lab::new();
    let ref_cfg = cfg_for(&ref_lab, "logs-ref");
    let reference = start_reference(&ref_lab, &ref_cfg);
    traffic(&ref_lab);
    drop(reference);

    let our_lab = Lab::new();
    let our_cfg = cfg_for(&our_lab, "logs-ours");
    let ours = start_ours(&our_lab, load(&our_cfg));
    traffic(&our_lab);
    drop(ours);
    let _ = std::fs::remove_file(&ref_cfg);
    let _ = std::fs::remove_file(&our_cfg);

    let mut report = String::new();
    let mut mismatches = Vec::new();
    for port in [0u16, 5514, 5515, 5516] {
        // The probe's own lines come first and depend on how often it was tried.
        let keep = |lines: Vec<String>| -> Vec<String> {
            lines
                .iter()
                .filter(|l| !l.contains("(probe/TCP)") && !l.contains(" probe be_echo/"))
                .map(|l| normalise_datagram(l))
                .collect()
        };
        let theirs = keep(ref_lab.all_lines(port));
        let mine = keep(our_lab.all_lines(port));
        report.push_str(&format!(
            "port {port}\n  ref  {theirs:?}\n  ours {mine:?}\n"
        ));
        if theirs != mine {
            mismatches.push(format!("port {port}:\n  ref  {theirs:?}\n  ours {mine:?}"));
        }
    }
    eprintln!("{report}");
    assert!(
        !ref_lab.all_lines(5514).is_empty(),
        "the reference logged nothing: the lab is broken"
    );
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
