//! The balancers against the real haproxy 2.6: for each algorithm, weight set and run-time
//! change, the real `/usr/sbin/haproxy` runs in a network namespace this test creates,
//! in front of small servers that answer their own name; the sequence of names K
//! requests get is recorded and our `Balancer`, built from the same configuration and
//! fed the same requests and changes, must produce exactly that sequence.
//!
//! Needs root (network namespaces) and haproxy; skipped with a message otherwise.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use nix::sched::CloneFlags;
use proxy_engine::balance::{Balancer, Pick, RequestInfo, ServerId};

mod common;
use common::Ns;

static NEXT: AtomicU32 = AtomicU32::new(0);

const HAPROXY: &str = "/usr/sbin/haproxy";
const SERVER_PORT_BASE: u16 = 9001;
const SERVERS: usize = 4;

// ---------------------------------------------------------------- the lab

/// Servers `s1`..`s4` on 127.0.0.1:9001.. inside the namespace. An HTTP request
/// (`GET ...`) is answered with the server's name as body and the connection closed;
/// anything else gets `NAME\n` and the connection is held until the client closes.
fn start_name_servers(ns: &Ns) {
    let ns_path = format!("/run/netns/{}", ns.name);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let fd = std::fs::File::open(&ns_path).expect("netns file");
        nix::sched::setns(&fd, CloneFlags::CLONE_NEWNET).expect("setns");
        for i in 0..SERVERS {
            let listener =
                TcpListener::bind(("127.0.0.1", SERVER_PORT_BASE + i as u16)).expect("bind server");
            let name = format!("s{}", i + 1);
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    let Ok(conn) = conn else { continue };
                    let name = name.clone();
                    std::thread::spawn(move || serve(conn, &name));
                }
            });
        }
        tx.send(()).unwrap();
        // The listeners live on in their threads until the test process ends.
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("servers started");
}

fn serve(mut conn: TcpStream, name: &str) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let Ok(n) = conn.read(&mut chunk) else { return };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.starts_with(b"GET ") || buf.starts_with(b"POST ") {
            if buf.windows(4).any(|w| w == b"\r\n\r\n") {
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                    name.len(),
                    name
                );
                let _ = conn.write_all(resp.as_bytes());
                return;
            }
        } else if buf.contains(&b'\n') {
            let _ = conn.write_all(format!("{name}\n").as_bytes());
            // Held until the client closes.
            while matches!(conn.read(&mut chunk), Ok(n) if n > 0) {}
            return;
        }
    }
}

/// The real haproxy, killed on drop.
struct Haproxy {
    child: Child,
    cfg: PathBuf,
    sock: PathBuf,
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.cfg);
        let _ = std::fs::remove_file(&self.sock);
    }
}

fn start_haproxy(ns: &Ns, cfg_text: &str, sock: &Path, port: u16) -> Haproxy {
    let cfg = std::env::temp_dir().join(format!(
        "hape-{}-{}.cfg",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::write(&cfg, cfg_text).unwrap();
    let child = Command::new("ip")
        .args(["netns", "exec", &ns.name, HAPROXY, "-db", "-f"])
        .arg(&cfg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn haproxy");
    let hap = Haproxy {
        child,
        cfg,
        sock: sock.to_path_buf(),
    };
    let ready = ns.enter(|| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() && sock.exists() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    });
    assert!(ready, "haproxy did not start with:\n{cfg_text}");
    hap
}

fn cli(sock: &Path, command: &str) -> String {
    let mut s = UnixStream::connect(sock).expect("stats socket");
    s.write_all(format!("{command}\n").as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

// ---------------------------------------------------------------- scenarios

#[derive(Debug, Clone)]
enum Step {
    /// An HTTP request, answered and closed before the next step.
    Http {
        uri: String,
        header: Option<(String, String)>,
        source: Option<Ipv4Addr>,
    },
    /// A TCP connection kept open (mode tcp backends).
    Hold,
    /// Close every held connection.
    CloseHeld,
    /// A stats socket command (`disable server lb/s2`, `set weight lb/s1 4`...).
    Cli(String),
}

fn get(uri: &str) -> Step {
    Step::Http {
        uri: uri.to_string(),
        header: None,
        source: None,
    }
}

fn gets(n: usize) -> Vec<Step> {
    (0..n).map(|_| get("/")).collect()
}

/// The sequence of server names the real haproxy gives the steps.
fn reference_sequence(ns: &Ns, port: u16, sock: &Path, steps: &[Step]) -> Vec<String> {
    ns.enter(|| {
        let mut names = Vec::new();
        let mut held: Vec<TcpStream> = Vec::new();
        for step in steps {
            match step {
                Step::Http {
                    uri,
                    header,
                    source,
                } => {
                    let stream = connect_from(*source, port);
                    names.push(http_get(stream, uri, header.as_ref()));
                    // Let haproxy finish the stream (slot release) before the next one.
                    std::thread::sleep(Duration::from_millis(5));
                }
                Step::Hold => {
                    let mut s = connect_from(None, port);
                    s.write_all(b"hello\n").unwrap();
                    let mut line = String::new();
                    BufReader::new(s.try_clone().unwrap())
                        .read_line(&mut line)
                        .unwrap();
                    names.push(line.trim().to_string());
                    held.push(s);
                }
                Step::CloseHeld => {
                    held.clear();
                    std::thread::sleep(Duration::from_millis(200));
                }
                Step::Cli(c) => {
                    let out = cli(sock, c);
                    assert!(
                        out.trim().is_empty() || !out.contains("No such"),
                        "{c}: {out}"
                    );
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
        names
    })
}

fn connect_from(source: Option<Ipv4Addr>, port: u16) -> TcpStream {
    let addr: SocketAddr = (Ipv4Addr::LOCALHOST, port).into();
    match source {
        None => TcpStream::connect(addr).expect("connect"),
        Some(src) => {
            let sock =
                socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
            sock.bind(&SocketAddr::from((src, 0)).into())
                .expect("bind source");
            sock.connect(&addr.into()).expect("connect");
            sock.into()
        }
    }
}

fn http_get(mut s: TcpStream, uri: &str, header: Option<&(String, String)>) -> String {
    let extra = header
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .unwrap_or_default();
    let req = format!("GET {uri} HTTP/1.1\r\nHost: test.local\r\n{extra}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp);
    let text = String::from_utf8_lossy(&resp).into_owned();
    match text.split_once("\r\n\r\n") {
        Some((head, body)) if head.starts_with("HTTP/1.1 200") => body.to_string(),
        _ => format!("<{}>", text.lines().next().unwrap_or("no response")),
    }
}

/// The same steps through our balancer.
fn our_sequence(b: &mut Balancer, steps: &[Step]) -> Vec<String> {
    let mut names = Vec::new();
    let mut held: Vec<ServerId> = Vec::new();
    let now = Duration::from_secs(1000);
    let header_name = b.hash_header().map(str::to_ascii_lowercase);
    for step in steps {
        match step {
            Step::Http {
                uri,
                header,
                source,
            } => {
                let src = IpAddr::V4(source.unwrap_or(Ipv4Addr::LOCALHOST));
                let hv = match (&header_name, header) {
                    (Some(want), Some((k, v))) if k.eq_ignore_ascii_case(want) => {
                        Some(v.as_bytes())
                    }
                    (Some(want), _) if want == "host" => Some(&b"test.local"[..]),
                    _ => None,
                };
                let req = RequestInfo {
                    source: Some(src),
                    uri: Some(uri.as_bytes()),
                    header: hv,
                    post_body: None,
                };
                match b.pick(&req, None, now) {
                    Pick::Server(id) => {
                        names.push(b.server_name(id).to_string());
                        b.release(id, now);
                    }
                    other => names.push(format!("{other:?}")),
                }
            }
            Step::Hold => match b.pick(&RequestInfo::default(), None, now) {
                Pick::Server(id) => {
                    names.push(b.server_name(id).to_string());
                    held.push(id);
                }
                other => names.push(format!("{other:?}")),
            },
            Step::CloseHeld => {
                for id in held.drain(..) {
                    b.release(id, now);
                }
            }
            Step::Cli(c) => apply_cli(b, c, now),
        }
    }
    names
}

fn apply_cli(b: &mut Balancer, command: &str, now: Duration) {
    let words: Vec<&str> = command.split_whitespace().collect();
    let server = |w: &str| {
        let name = w.split_once('/').map(|(_, s)| s).unwrap();
        b.find(name).unwrap()
    };
    match words.as_slice() {
        ["disable", "server", s] => {
            let id = server(s);
            b.set_maintenance(id, true, now);
        }
        ["enable", "server", s] => {
            let id = server(s);
            b.set_maintenance(id, false, now);
        }
        ["set", "weight", s, w] => {
            let id = server(s);
            b.set_weight(id, w.parse().unwrap(), now).unwrap();
        }
        ["set", "server", s, "health", "down"] => {
            let id = server(s);
            b.set_stopped(id, now);
        }
        ["set", "server", s, "health", "up"] => {
            let id = server(s);
            b.set_running(id, now);
        }
        _ => panic!("unknown command {command}"),
    }
}

struct Scenario {
    name: &'static str,
    /// The `listen lb` body after `bind` (balance, hash-type, servers...).
    body: String,
    tcp: bool,
    steps: Vec<Step>,
}

fn servers(weights: &[u32], extra: &str) -> String {
    weights
        .iter()
        .enumerate()
        .map(|(i, w)| {
            format!(
                "  server s{} 127.0.0.1:{} weight {w}{extra}\n",
                i + 1,
                SERVER_PORT_BASE + i as u16
            )
        })
        .collect()
}

fn scenarios() -> Vec<Scenario> {
    let mut v = Vec::new();
    let sc = |name, body: String, steps| Scenario {
        name,
        body,
        tcp: false,
        steps,
    };
    v.push(sc(
        "roundrobin 1,2,3",
        format!("  balance roundrobin\n{}", servers(&[1, 2, 3], "")),
        gets(30),
    ));
    v.push(sc(
        "roundrobin 10,1",
        format!("  balance roundrobin\n{}", servers(&[10, 1], "")),
        gets(33),
    ));
    v.push(sc(
        "roundrobin 3,1,2,5",
        format!("  balance roundrobin\n{}", servers(&[3, 1, 2, 5], "")),
        gets(44),
    ));
    let mut dynamic = gets(7);
    dynamic.push(Step::Cli("set weight lb/s1 4".into()));
    dynamic.extend(gets(13));
    dynamic.push(Step::Cli("disable server lb/s2".into()));
    dynamic.extend(gets(9));
    dynamic.push(Step::Cli("enable server lb/s2".into()));
    dynamic.extend(gets(17));
    dynamic.push(Step::Cli("set weight lb/s3 0".into()));
    dynamic.extend(gets(6));
    dynamic.push(Step::Cli("set weight lb/s3 7".into()));
    dynamic.extend(gets(20));
    v.push(sc(
        "roundrobin dynamic",
        format!("  balance roundrobin\n{}", servers(&[1, 2, 3], "")),
        dynamic.clone(),
    ));
    let mut health = gets(5);
    health.push(Step::Cli("set server lb/s1 health down".into()));
    health.extend(gets(7));
    health.push(Step::Cli("set server lb/s1 health up".into()));
    health.extend(gets(12));
    v.push(sc(
        "roundrobin health down/up",
        format!(
            "  balance roundrobin\n{}",
            servers(&[2, 1, 1], " check inter 60s")
        ),
        health.clone(),
    ));
    v.push(sc(
        "static-rr 3,1,2",
        format!("  balance static-rr\n{}", servers(&[3, 1, 2], "")),
        gets(24),
    ));
    v.push(sc(
        "static-rr 4,6,2",
        format!("  balance static-rr\n{}", servers(&[4, 6, 2], "")),
        gets(24),
    ));
    let mut srr = gets(5);
    srr.push(Step::Cli("disable server lb/s1".into()));
    srr.extend(gets(6));
    srr.push(Step::Cli("enable server lb/s1".into()));
    srr.extend(gets(8));
    srr.push(Step::Cli("set weight lb/s2 0".into()));
    srr.extend(gets(5));
    v.push(sc(
        "static-rr dynamic",
        format!("  balance static-rr\n{}", servers(&[3, 1, 2], "")),
        srr,
    ));
    v.push(sc(
        "leastconn",
        format!("  balance leastconn\n{}", servers(&[1, 2, 3], "")),
        gets(12),
    ));
    v.push(sc(
        "leastconn dynamic",
        format!(
            "  balance leastconn\n{}",
            servers(&[1, 2, 3], " check inter 60s")
        ),
        health,
    ));
    let mut first = vec![Step::Hold; 5];
    first.push(Step::CloseHeld);
    first.extend(vec![Step::Hold; 3]);
    first.push(Step::CloseHeld);
    v.push(Scenario {
        name: "first maxconn 2",
        body: format!("  balance first\n{}", servers(&[1, 1, 1], " maxconn 2")),
        tcp: true,
        steps: first,
    });
    // Hashing: a list of keys, map-based and consistent, several functions.
    let uris: Vec<Step> = (0..40)
        .map(|i| get(&format!("/dir{}/page{}.html?x={}", i % 7, i, i * 3)))
        .collect();
    for (label, ht) in [
        ("map-based", ""),
        ("consistent", "  hash-type consistent\n"),
        ("map-based djb2", "  hash-type map-based djb2\n"),
        (
            "map-based wt6 avalanche",
            "  hash-type map-based wt6 avalanche\n",
        ),
        ("consistent crc32", "  hash-type consistent crc32\n"),
        (
            "consistent sdbm avalanche",
            "  hash-type consistent sdbm avalanche\n",
        ),
    ] {
        let name: &'static str = Box::leak(format!("uri {label}").into_boxed_str());
        v.push(sc(
            name,
            format!("  balance uri\n{ht}{}", servers(&[1, 2, 3], "")),
            uris.clone(),
        ));
    }
    v.push(sc(
        "uri depth 1 whole weights 2,1,1,3",
        format!(
            "  balance uri depth 1 whole\n{}",
            servers(&[2, 1, 1, 3], "")
        ),
        uris.clone(),
    ));
    let params: Vec<Step> = (0..30)
        .map(|i| {
            get(&if i % 5 == 4 {
                format!("/p?other={i}")
            } else {
                format!("/p?a=1&user=u{i}&z")
            })
        })
        .collect();
    v.push(sc(
        "url_param map-based",
        format!("  balance url_param user\n{}", servers(&[1, 1, 2], "")),
        params.clone(),
    ));
    v.push(sc(
        "url_param consistent",
        format!(
            "  balance url_param user\n  hash-type consistent\n{}",
            servers(&[1, 1, 2], "")
        ),
        params,
    ));
    let hdrs: Vec<Step> = (0..30)
        .map(|i| Step::Http {
            uri: "/".into(),
            header: (i % 6 != 5).then(|| ("X-Key".to_string(), format!("key-{}", i * 7))),
            source: None,
        })
        .collect();
    v.push(sc(
        "hdr map-based",
        format!("  balance hdr(X-Key)\n{}", servers(&[1, 2, 1], "")),
        hdrs.clone(),
    ));
    v.push(sc(
        "hdr consistent",
        format!(
            "  balance hdr(X-Key)\n  hash-type consistent\n{}",
            servers(&[1, 2, 1], "")
        ),
        hdrs,
    ));
    let sources: Vec<Step> = (2..40u8)
        .map(|i| Step::Http {
            uri: "/".into(),
            header: None,
            source: Some(Ipv4Addr::new(127, 0, i / 3, i)),
        })
        .collect();
    v.push(sc(
        "source map-based",
        format!("  balance source\n{}", servers(&[1, 1, 1], "")),
        sources.clone(),
    ));
    v.push(sc(
        "source consistent",
        format!(
            "  balance source\n  hash-type consistent\n{}",
            servers(&[1, 3, 1], "")
        ),
        sources,
    ));
    // Backups: two active, two backup servers; the actives go away at run time.
    let backup_servers = "  server s1 127.0.0.1:9001 weight 1\n  server s2 127.0.0.1:9002 weight 2\n  server s3 127.0.0.1:9003 weight 3 backup\n  server s4 127.0.0.1:9004 weight 1 backup\n";
    let mut bsteps = gets(4);
    bsteps.push(Step::Cli("disable server lb/s1".into()));
    bsteps.push(Step::Cli("disable server lb/s2".into()));
    bsteps.extend(gets(8));
    bsteps.push(Step::Cli("disable server lb/s3".into()));
    bsteps.extend(gets(3));
    bsteps.push(Step::Cli("enable server lb/s3".into()));
    bsteps.extend(gets(3));
    bsteps.push(Step::Cli("enable server lb/s2".into()));
    bsteps.extend(gets(4));
    for algo in ["roundrobin", "static-rr", "leastconn"] {
        for allb in [false, true] {
            let name: &'static str = Box::leak(
                format!("backup {algo}{}", if allb { " allbackups" } else { "" }).into_boxed_str(),
            );
            v.push(sc(
                name,
                format!(
                    "  balance {algo}\n{}{backup_servers}",
                    if allb { "  option allbackups\n" } else { "" }
                ),
                bsteps.clone(),
            ));
        }
    }
    v.push(sc(
        "disabled server at start",
        format!(
            "  balance roundrobin\n{}  server s4 127.0.0.1:9004 disabled\n",
            servers(&[1, 2, 1], "")
        ),
        gets(12),
    ));
    v
}

fn lb_config(sc: &Scenario, port: u16, sock: &Path) -> String {
    let mode = if sc.tcp { "tcp" } else { "http" };
    format!(
        "global\n  nbthread 1\n  stats socket {} level admin\n\ndefaults\n  mode {mode}\n  timeout connect 2s\n  timeout client 5s\n  timeout server 5s\n\nlisten lb\n  bind 127.0.0.1:{port}\n{}",
        sock.display(),
        sc.body
    )
}

fn our_balancer(cfg_text: &str) -> Balancer {
    let path = std::env::temp_dir().join(format!(
        "hape-ours-{}-{}.cfg",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::write(&path, cfg_text).unwrap();
    let env = std::collections::BTreeMap::<String, String>::new();
    let options = haproxy_conf::LoadOptions {
        env: &env,
        features: haproxy_conf::version::FEATURES,
        resolver: &haproxy_conf::NoResolver,
        accounts: &haproxy_conf::host::AnyAccounts,
        host_files: false,
    };
    let loaded = haproxy_conf::load(std::slice::from_ref(&path), &options);
    let _ = std::fs::remove_file(&path);
    let proxy = loaded.config.proxy("lb").expect("listen lb");
    Balancer::new(proxy, 1).expect("balancer")
}

fn skip_reason() -> Option<&'static str> {
    if !nix::unistd::geteuid().is_root() {
        return Some("not root (network namespaces need it)");
    }
    if !Path::new(HAPROXY).exists() {
        return Some("no /usr/sbin/haproxy (apt-get install haproxy)");
    }
    None
}

#[test]
fn server_sequences_match_the_real_haproxy() {
    if let Some(why) = skip_reason() {
        println!("SKIPPED balance_vs_haproxy: {why}");
        return;
    }
    let ns = Ns::new();
    start_name_servers(&ns);
    let mut failures = Vec::new();
    for (i, sc) in scenarios().into_iter().enumerate() {
        let port = 8100 + i as u16;
        let sock = std::env::temp_dir().join(format!("hape-{}-{i}.sock", std::process::id()));
        let cfg = lb_config(&sc, port, &sock);
        let reference = {
            let _hap = start_haproxy(&ns, &cfg, &sock, port);
            reference_sequence(&ns, port, &sock, &sc.steps)
        };
        let ours = our_sequence(&mut our_balancer(&cfg), &sc.steps);
        println!("{:<36} haproxy: {}", sc.name, reference.join(" "));
        if reference != ours {
            failures.push(format!(
                "{}:\n  haproxy: {}\n  ours:    {}",
                sc.name,
                reference.join(" "),
                ours.join(" ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} scenario(s) differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
