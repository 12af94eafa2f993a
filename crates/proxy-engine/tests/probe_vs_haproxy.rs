//! Health-check probes against the real haproxy 2.6: in a network namespace this test
//! creates (`haprobe-<pid>`), servers answer as each scenario needs (PING -> PONG, a
//! wrong answer then close or hold, silence, an immediate close, HTTP 200/503/301,
//! garbage, refusal, and an address whose SYNs go nowhere). The real haproxy checks them
//! with `option log-health-checks`; its first `Health check for server ...` line per
//! backend is recorded, and so are the bytes each server received. Then our probes run
//! against the same servers, their results go through our `HealthCheck`, and the lines
//! must be identical (only `check duration` differs, within 150 ms for timeouts) and
//! the bytes equal (PROXY v1 source ports aside). Finally the per-server check tasks run
//! the seed backends (000 and 004's `option tcp-check` + `check fall 3 rise 2`, 002's
//! plain `check`) and must log the same lines as haproxy did for them.
//!
//! Needs root (network namespaces) and /usr/sbin/haproxy; skipped with a message
//! otherwise.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sched::CloneFlags;
use proxy_engine::balance::{Balancer, ServerId};
use proxy_engine::health::{
    backend_down_line, first_check_delays, health_check_line, CheckParams, HealthCheck, Transition,
};
use proxy_engine::probe::schedule::{spawn_check, ServerCheck};
use proxy_engine::probe::{run_check, CheckDeadlines, ProbeSpec};

const HAPROXY: &str = "/usr/sbin/haproxy";
/// An address on a veth whose SYNs nobody answers (static neighbour, no host).
const BLACKHOLE: &str = "10.99.0.2";

struct Ns(String);

fn ip(args: &[&str]) {
    assert!(
        Command::new("ip").args(args).status().unwrap().success(),
        "ip {args:?}"
    );
}

impl Ns {
    fn new() -> Ns {
        let name = format!("haprobe-{}", std::process::id());
        ip(&["netns", "add", &name]);
        let ns = Ns(name);
        let n = ns.0.as_str();
        ip(&["-n", n, "link", "set", "lo", "up"]);
        ip(&[
            "-n", n, "link", "add", "v0", "type", "veth", "peer", "name", "v1",
        ]);
        ip(&["-n", n, "addr", "add", "10.99.0.1/24", "dev", "v0"]);
        ip(&["-n", n, "link", "set", "v0", "up"]);
        ip(&["-n", n, "link", "set", "v1", "up"]);
        ip(&[
            "-n",
            n,
            "neigh",
            "add",
            BLACKHOLE,
            "lladdr",
            "02:00:00:00:00:99",
            "dev",
            "v0",
            "nud",
            "permanent",
        ]);
        ns
    }
}

/// Moves the calling thread into namespace `name`.
fn enter(name: &str) {
    let fd = std::fs::File::open(format!("/run/netns/{name}")).unwrap();
    nix::sched::setns(&fd, CloneFlags::CLONE_NEWNET).unwrap();
}

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[derive(Clone, Copy, Debug)]
enum Behaviour {
    /// Accept and read until the peer goes.
    Accept,
    /// Wait for PING, answer `+PONG\r\n`, close 50 ms later.
    Pong,
    /// Read once, answer `PANG\r\n`, close.
    WrongClose,
    /// Read once, answer `PANG\r\n`, keep the connection 4 s.
    WrongHold,
    /// Read, say nothing for 4 s.
    Silent,
    /// Read once and close without answering.
    Close,
    /// Read a request (headers + content-length body), answer these bytes, close.
    Http(&'static [u8]),
}

/// What the servers received: (phase, port, bytes of one connection).
type Received = Arc<Mutex<Vec<(u8, u16, Vec<u8>)>>>;

fn read_request(c: &mut TcpStream) -> Vec<u8> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if data.len() >= end + 4 + len {
                return data;
            }
        }
        match c.read(&mut buf) {
            Ok(0) | Err(_) => return data,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    }
}

fn serve(c: &mut TcpStream, b: Behaviour) -> Vec<u8> {
    c.set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    let mut buf = [0u8; 4096];
    let mut data = Vec::new();
    let mut read_once = |c: &mut TcpStream, data: &mut Vec<u8>| match c.read(&mut buf) {
        Ok(n) => {
            data.extend_from_slice(&buf[..n]);
            n
        }
        Err(_) => 0,
    };
    match b {
        Behaviour::Accept => while read_once(c, &mut data) > 0 {},
        Behaviour::Pong => {
            while !data.windows(4).any(|w| w == b"PING") {
                if read_once(c, &mut data) == 0 {
                    break;
                }
            }
            let _ = c.write_all(b"+PONG\r\n");
            std::thread::sleep(Duration::from_millis(50));
        }
        Behaviour::WrongClose => {
            read_once(c, &mut data);
            let _ = c.write_all(b"PANG\r\n");
        }
        Behaviour::WrongHold => {
            read_once(c, &mut data);
            let _ = c.write_all(b"PANG\r\n");
            std::thread::sleep(Duration::from_secs(4));
        }
        Behaviour::Silent => {
            read_once(c, &mut data);
            std::thread::sleep(Duration::from_secs(4));
        }
        Behaviour::Close => {
            read_once(c, &mut data);
        }
        Behaviour::Http(resp) => {
            data = read_request(c);
            let _ = c.write_all(resp);
        }
    }
    data
}

fn start_server(ns: &Ns, port: u16, b: Behaviour, phase: Arc<AtomicU8>, rx: Received) {
    let path = format!("/run/netns/{}", ns.0);
    let (tx, ready) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let fd = std::fs::File::open(path).unwrap();
        nix::sched::setns(&fd, CloneFlags::CLONE_NEWNET).unwrap();
        let l = TcpListener::bind(("127.0.0.1", port)).unwrap();
        tx.send(()).unwrap();
        for c in l.incoming() {
            let Ok(mut c) = c else { continue };
            let (phase, rx) = (phase.clone(), rx.clone());
            std::thread::spawn(move || {
                let p = phase.load(Ordering::SeqCst);
                let data = serve(&mut c, b);
                rx.lock().unwrap().push((p, port, data));
            });
        }
    });
    ready.recv().unwrap();
}

const HTTP_200: &[u8] = b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello";
const HTTP_503: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";
const HTTP_301: &[u8] =
    b"HTTP/1.1 301 Moved Permanently\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n";
const HTTP_JUNK: &[u8] = b"garbage\r\n\r\n";
const HTTP_CHUNKED: &[u8] =
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nnot\r\n6\r\n ready\r\n0\r\n\r\n";

/// The servers: port and behaviour. 9099 is never listened on (refused).
const SERVERS: &[(u16, Behaviour)] = &[
    (9001, Behaviour::Accept),
    (9002, Behaviour::Pong),
    (9003, Behaviour::WrongClose),
    (9004, Behaviour::WrongHold),
    (9005, Behaviour::Silent),
    (9006, Behaviour::Close),
    (9007, Behaviour::Pong),
    (9008, Behaviour::WrongClose),
    (9009, Behaviour::Pong),
    (9010, Behaviour::Http(HTTP_200)),
    (9011, Behaviour::Http(HTTP_503)),
    (9012, Behaviour::Http(HTTP_301)),
    (9013, Behaviour::Http(HTTP_JUNK)),
    (9014, Behaviour::Close),
    (9015, Behaviour::Silent),
    (9016, Behaviour::Http(HTTP_200)),
    (9017, Behaviour::Http(HTTP_CHUNKED)),
    (9018, Behaviour::Http(HTTP_200)),
    (9019, Behaviour::Http(HTTP_503)),
    (9020, Behaviour::Pong),
    (9021, Behaviour::Accept),
    (9022, Behaviour::Pong),
    (9023, Behaviour::Accept),
    (9024, Behaviour::Pong),
    (9025, Behaviour::Http(HTTP_200)),
];

/// Scenario backends: name and body (all run under the first defaults section).
const SCENARIOS: &[(&str, &str)] = &[
    ("plain_ok", "  server s 127.0.0.1:9001 check"),
    ("plain_refused", "  server s 127.0.0.1:9099 check"),
    ("plain_tout", "  server s 10.99.0.2:80 check"),
    ("tcp_empty_ok", "  option tcp-check\n  server s 127.0.0.1:9001 check"),
    ("tcp_empty_refused", "  option tcp-check\n  server s 127.0.0.1:9099 check"),
    ("tcp_tout", "  option tcp-check\n  tcp-check send PING\\r\\n\n  tcp-check expect string PONG\n  server s 10.99.0.2:80 check"),
    ("pingpong_ok", "  option tcp-check\n  tcp-check send PING\\r\\n\n  tcp-check expect string PONG\n  server s 127.0.0.1:9002 check"),
    ("pingpong_wrongclose", "  option tcp-check\n  tcp-check send PING\\r\\n\n  tcp-check expect string PONG\n  server s 127.0.0.1:9003 check"),
    ("pingpong_wronghold", "  option tcp-check\n  tcp-check send PING\\r\\n\n  tcp-check expect string PONG\n  server s 127.0.0.1:9004 check"),
    ("pingpong_silent", "  option tcp-check\n  tcp-check send PING\\r\\n\n  tcp-check expect string PONG\n  server s 127.0.0.1:9005 check"),
    ("pingpong_close_comment", "  option tcp-check\n  tcp-check comment hello\n  tcp-check send PING\\r\\n\n  tcp-check expect string PONG comment \"want pong\"\n  server s 127.0.0.1:9006 check"),
    ("connect_refused", "  option tcp-check\n  tcp-check connect\n  tcp-check send PING\\r\\n\n  tcp-check expect string PONG\n  server s 127.0.0.1:9099 check"),
    ("connect_port_refused", "  option tcp-check\n  tcp-check connect port 9098\n  server s 127.0.0.1:9001 check"),
    ("connect_port_ok", "  option tcp-check\n  tcp-check connect port 9009 comment \"pp\"\n  tcp-check send PING\\r\\n\n  tcp-check expect string PONG\n  server s 127.0.0.1:9099 check"),
    ("tcp_binary", "  option tcp-check\n  tcp-check send-binary 50494e470d0a\n  tcp-check expect binary 2b504f4e47\n  tcp-check expect rstring ^\\+PO\n  tcp-check expect rbinary ^2B50\n  tcp-check expect ! string PANG\n  server s 127.0.0.1:9007 check"),
    ("tcp_rstring_fail", "  option tcp-check\n  tcp-check send PING\\r\\n\n  tcp-check expect rstring ^PONG\n  server s 127.0.0.1:9024 check"),
    ("tcp_neg_fail", "  option tcp-check\n  tcp-check send PING\\r\\n\n  tcp-check expect ! string PANG\n  server s 127.0.0.1:9008 check"),
    ("tcp_sendproxy", "  option tcp-check\n  tcp-check connect send-proxy\n  tcp-check send PING\\r\\n\n  tcp-check expect string PONG\n  server s 127.0.0.1:9020 check"),
    ("check_send_proxy", "  server s 127.0.0.1:9021 check check-send-proxy"),
    ("send_proxy_v2", "  option tcp-check\n  tcp-check send PING\\r\\n\n  tcp-check expect string PONG\n  server s 127.0.0.1:9022 check send-proxy-v2"),
    ("port_override", "  server s 127.0.0.1:9099 check port 9023"),
    ("addr_override", "  option tcp-check\n  tcp-check send PING\\r\\n\n  tcp-check expect string PONG\n  server s 10.99.0.2:9022 check addr 127.0.0.1 port 9009"),
    ("http_default", "  option httpchk\n  server s 127.0.0.1:9010 check"),
    ("http_503", "  option httpchk GET /health HTTP/1.1\n  server s 127.0.0.1:9011 check"),
    ("http_301", "  option httpchk HEAD /\n  server s 127.0.0.1:9012 check"),
    ("http_junk", "  option httpchk\n  server s 127.0.0.1:9013 check"),
    ("http_close", "  option httpchk\n  server s 127.0.0.1:9014 check"),
    ("http_silent", "  option httpchk\n  server s 127.0.0.1:9015 check"),
    ("http_tout", "  option httpchk\n  server s 10.99.0.2:80 check"),
    ("http_refused", "  option httpchk\n  server s 127.0.0.1:9099 check"),
    ("http_send", "  option httpchk\n  http-check send meth POST uri /x ver HTTP/1.1 hdr Host example.com hdr X-A b body hi\n  http-check expect string hello\n  server s 127.0.0.1:9016 check"),
    ("http_body_fail", "  option httpchk GET /ready\n  http-check expect string ready comment \"is it\"\n  http-check expect ! rstring not\n  server s 127.0.0.1:9017 check"),
    ("http_rstatus", "  option httpchk\n  http-check expect rstatus ^2\n  server s 127.0.0.1:9018 check"),
    ("http_status_list", "  option httpchk GET / HTTP/1.1\n  http-check expect status 200,500-504\n  server s 127.0.0.1:9019 check"),
    ("http_neg_status", "  option httpchk\n  http-check send meth GET uri /a\n  http-check expect ! status 200\n  server s 127.0.0.1:9025 check"),
];

/// The seeds' backends, each under its seed's defaults (`option log-health-checks`
/// added, addresses moved into the namespace). HAProxy 2.6 refuses two forms the
/// seeds use: seed 002's `contimeout`/`clitimeout`/`srvtimeout` (dropped here) and
/// 002/004's `listen NAME ADDR` ("please use the 'bind' keyword"), written here with
/// `bind`.
const SEEDS: &str = "
defaults
log global
mode http
option httplog
option dontlognull
option log-health-checks
timeout connect 5000
timeout client 50000
timeout server 50000
backend web-servers
mode tcp
balance roundrobin
option tcp-check
server web1 127.0.0.1:9001 check fall 3 rise 2
server web2 10.99.0.2:80 check fall 3 rise 2
defaults
 log global
 option dontlognull
 option redispatch
 option log-health-checks
 retries 3
 maxconn 2000
listen blogadmin.nostratech.com
        bind 127.0.0.1:7001
        mode tcp
        option tcplog
        server adminserver 127.0.0.1:9099 check
defaults
  log     global
  mode    http
  option  httplog
  option  dontlognull
  option log-health-checks
  timeout server 5s
  timeout connect 5s
  timeout client 5s
listen tcp_service_a
  bind 127.0.0.1:14900
  mode tcp
  option tcplog
  option tcp-check
  # tcp-check send PING
  # tcp-check expect string PONG
  balance roundrobin
  server tcp_service_a_01 127.0.0.1:9001 check
  server tcp_service_a_02 127.0.0.1:9099 check
";

fn config() -> String {
    let mut cfg = String::from(
        "global\n  nbthread 1\n  log stdout format raw local0\n\
         defaults\n  mode tcp\n  log global\n  option log-health-checks\n  timeout connect 1s\n  timeout client 5s\n  timeout server 5s\n  timeout check 1500ms\n  default-server inter 10s fastinter 100\n\
         listen dummy\n  bind 127.0.0.1:7999\n  server s 127.0.0.1:9001\n",
    );
    for (name, body) in SCENARIOS {
        cfg.push_str(&format!("backend {name}\n{body}\n"));
    }
    cfg.push_str(SEEDS);
    cfg
}

fn load(text: &str) -> haproxy_conf::model::HaproxyConfig {
    let path = std::env::temp_dir().join(format!("haprobe-ours-{}.cfg", std::process::id()));
    std::fs::write(&path, text).unwrap();
    let env = BTreeMap::<String, String>::new();
    let options = haproxy_conf::LoadOptions {
        env: &env,
        features: haproxy_conf::version::FEATURES,
        resolver: &haproxy_conf::NoResolver,
        accounts: &haproxy_conf::host::AnyAccounts,
        host_files: false,
    };
    let loaded = haproxy_conf::load(std::slice::from_ref(&path), &options);
    let _ = std::fs::remove_file(&path);
    loaded.config
}

/// `check duration: 12ms` -> `check duration: Nms`, with the value.
fn split_duration(line: &str) -> (String, Option<u64>) {
    let key = "check duration: ";
    match line.find(key) {
        Some(i) => {
            let tail = &line[i + key.len()..];
            let digits: String = tail.chars().take_while(|c| c.is_ascii_digit()).collect();
            (
                format!("{}N{}", &line[..i + key.len()], &tail[digits.len()..]),
                digits.parse().ok(),
            )
        }
        None => (line.to_string(), None),
    }
}

/// PROXY v1 source ports vary per connection.
fn normalize_bytes(b: &[u8]) -> String {
    let text = String::from_utf8_lossy(b).to_string();
    if let Some(rest) = text.strip_prefix("PROXY TCP4 ") {
        let parts: Vec<&str> = rest.splitn(4, ' ').collect();
        if parts.len() == 4 {
            return format!("PROXY TCP4 {} {} SPORT {}", parts[0], parts[1], parts[3]);
        }
    }
    text
}

fn server_ip(s: &haproxy_conf::model::Server) -> std::net::IpAddr {
    match &s.address.host {
        haproxy_conf::model::ServerHost::Ip(ip) => *ip,
        other => panic!("test servers use IPs, got {other:?}"),
    }
}

#[test]
fn probes_match_the_real_haproxy() {
    if !nix::unistd::geteuid().is_root() || !Path::new(HAPROXY).exists() {
        println!("SKIPPED probe_vs_haproxy: needs root and {HAPROXY}");
        return;
    }
    let ns = Ns::new();
    let phase = Arc::new(AtomicU8::new(1));
    let received: Received = Arc::default();
    for (port, b) in SERVERS {
        start_server(&ns, *port, *b, phase.clone(), received.clone());
    }
    let cfg_text = config();

    // Phase 1: the real haproxy.
    let cfg_path = std::env::temp_dir().join(format!("haprobe-{}.cfg", std::process::id()));
    std::fs::write(&cfg_path, &cfg_text).unwrap();
    let mut child = Command::new("ip")
        .args(["netns", "exec", &ns.0, HAPROXY, "-db", "-f"])
        .arg(&cfg_path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let alerts = Arc::new(Mutex::new(Vec::<String>::new()));
    let alert_sink = alerts.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if line.starts_with("[ALERT]") {
                alert_sink.lock().unwrap().push(line);
            }
        }
    });
    let hap = Killed(child);
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            sink.lock().unwrap().push(line);
        }
    });
    std::thread::sleep(Duration::from_millis(5000));
    drop(hap);
    let _ = std::fs::remove_file(&cfg_path);
    let real: Vec<String> = lines.lock().unwrap().clone();
    assert!(
        !real.is_empty(),
        "haproxy logged nothing: {:#?}",
        alerts.lock().unwrap()
    );
    std::thread::sleep(Duration::from_millis(300));

    // Phase 2: our probes, one check per scenario, concurrently.
    phase.store(2, Ordering::SeqCst);
    let model = load(&cfg_text);
    let mut jobs = Vec::new();
    for (name, _) in SCENARIOS {
        let proxy = model
            .proxy(name)
            .unwrap_or_else(|| panic!("no backend {name}"));
        let server = &proxy.servers[0];
        let params = CheckParams::new(server, &proxy.settings, &model.global);
        let spec = ProbeSpec::new(server, &proxy.settings, server_ip(server))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        jobs.push((name.to_string(), params, spec));
    }
    let ours: Vec<(String, CheckParams, proxy_engine::health::CheckResult)> = {
        let ns_path = ns.0.clone();
        std::thread::spawn(move || {
            enter(&ns_path);
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let out = rt.block_on(async move {
                let mut handles = Vec::new();
                for (name, params, spec) in jobs {
                    handles.push(tokio::spawn(async move {
                        let r = run_check(&spec, &CheckDeadlines::from_params(&params)).await;
                        (name, params, r)
                    }));
                }
                let mut out = Vec::new();
                for h in handles {
                    out.push(h.await.unwrap());
                }
                out
            });
            out
        })
        .join()
        .unwrap()
    };
    std::thread::sleep(Duration::from_millis(300));

    let mut failures = Vec::new();
    for (name, params, result) in &ours {
        let mut hc = HealthCheck::new(params.clone(), Duration::ZERO, false);
        hc.start(Duration::ZERO);
        hc.complete(result, Duration::ZERO, 0);
        let mine = health_check_line(name, "s", false, &hc, result, false);
        let prefix = format!("Health check for server {name}/s ");
        let Some(theirs) = real.iter().find(|l| l.starts_with(&prefix)) else {
            failures.push(format!("{name}: haproxy logged no check line"));
            continue;
        };
        let (t, td) = split_duration(theirs);
        let (m, md) = split_duration(&mine);
        println!("{name}:\n  haproxy: {theirs}\n  ours:    {mine}");
        if t != m {
            failures.push(format!("{name}:\n  haproxy: {theirs}\n  ours:    {mine}"));
        }
        // Timeouts must fire at the same time (the deadlines' semantics).
        if let (Some(td), Some(md)) = (td, md) {
            if td >= 500 && td.abs_diff(md) > 150 {
                failures.push(format!("{name}: duration {md}ms, haproxy {td}ms"));
            }
        }
    }

    // The bytes each server received, per port: the same set from haproxy and ours.
    let rx = received.lock().unwrap().clone();
    let mut by_port: BTreeMap<u16, [BTreeSet<String>; 2]> = BTreeMap::new();
    for (p, port, data) in &rx {
        by_port.entry(*port).or_default()[(*p - 1) as usize].insert(normalize_bytes(data));
    }
    for (port, [theirs, mine]) in &by_port {
        if mine.is_empty() {
            // Ports only the seed phase uses.
            continue;
        }
        println!("port {port}: haproxy {theirs:?} ours {mine:?}");
        if theirs != mine {
            failures.push(format!(
                "port {port}: haproxy sent {theirs:?}, ours {mine:?}"
            ));
        }
    }

    // Phase 3: the seeds' backends run by our check tasks for the same time.
    phase.store(3, Ordering::SeqCst);
    let seed_backends = ["web-servers", "blogadmin.nostratech.com", "tcp_service_a"];
    let mut checks = Vec::new();
    let mut all_params = Vec::new();
    for p in &model.proxies {
        for s in &p.servers {
            if s.options.check == Some(true) {
                all_params.push((
                    p.name.clone(),
                    s.name.clone(),
                    CheckParams::new(s, &p.settings, &model.global),
                ));
            }
        }
    }
    let delays = first_check_delays(
        &all_params
            .iter()
            .map(|(_, _, c)| c.clone())
            .collect::<Vec<_>>(),
    );
    let first: BTreeMap<(String, String), Duration> = all_params
        .iter()
        .zip(&delays)
        .map(|((b, s, _), d)| ((b.clone(), s.clone()), *d))
        .collect();
    for (bi, name) in seed_backends.iter().enumerate() {
        let proxy = model.proxy(name).unwrap();
        for (si, s) in proxy.servers.iter().enumerate() {
            let params = CheckParams::new(s, &proxy.settings, &model.global);
            checks.push(ServerCheck {
                key: (bi, si),
                backend: name.to_string(),
                server: s.name.clone(),
                backup: false,
                weight_zero: false,
                spec: ProbeSpec::new(s, &proxy.settings, server_ip(s)).unwrap(),
                params,
                log_health_checks: true,
                first: first[&(name.to_string(), s.name.clone())],
                in_maintenance: false,
                loaded_down: false,
                commands: Default::default(),
            });
        }
    }
    let reports = {
        let ns_path = ns.0.clone();
        std::thread::spawn(move || {
            enter(&ns_path);
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let out = rt.block_on(async move {
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                let epoch = tokio::time::Instant::now();
                let handles: Vec<_> = checks
                    .into_iter()
                    .map(|c| spawn_check(c, epoch, tx.clone()))
                    .collect();
                tokio::time::sleep(Duration::from_millis(5000)).await;
                for h in handles {
                    h.abort();
                }
                drop(tx);
                let mut out = Vec::new();
                while let Some(r) = rx.recv().await {
                    out.push(r);
                }
                out
            });
            out
        })
        .join()
        .unwrap()
    };
    for (bi, name) in seed_backends.iter().enumerate() {
        let proxy = model.proxy(name).unwrap();
        let mut balancer = Balancer::new(proxy, 1).unwrap();
        let mut mine = Vec::new();
        for r in reports.iter().filter(|r| r.key.0 == bi) {
            if let Some(l) = &r.health_line {
                mine.push(l.clone());
            }
            let id = ServerId(r.key.1);
            let change = match r.transition {
                Some(Transition::Down) => balancer.set_stopped(id, Duration::from_secs(1)),
                Some(Transition::Up) => balancer.set_running(id, Duration::from_secs(1)),
                None => None,
            };
            if let Some(ch) = change {
                mine.extend(r.state_line(&ch));
                if ch.backend_down {
                    mine.push(backend_down_line(
                        if proxy.kind.has_frontend() {
                            "proxy"
                        } else {
                            "backend"
                        },
                        name,
                    ));
                }
            }
        }
        let theirs: Vec<String> = real
            .iter()
            .filter(|l| {
                l.contains(&format!(" {name}/")) || l.contains(&format!(" {name} has no server"))
            })
            .map(|l| split_duration(l).0)
            .collect();
        let mine: Vec<String> = mine.iter().map(|l| split_duration(l).0).collect();
        println!("{name}:\n  haproxy: {theirs:#?}\n  ours:    {mine:#?}");
        if theirs != mine {
            failures.push(format!(
                "seed {name}:\n haproxy: {theirs:#?}\n ours: {mine:#?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
