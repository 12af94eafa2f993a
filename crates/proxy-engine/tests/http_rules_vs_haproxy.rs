//! `http::rules` against the real haproxy 2.6.12: a frontend full of `acl`,
//! `http-request`, `redirect` and `use_backend` lines runs in a network namespace this
//! test creates, in front of three echo servers (each answers 200 with the request head
//! it received as body and an `x-backend` header naming itself). Every request of a
//! corpus (paths, hosts, methods, headers, source addresses) goes through haproxy, and
//! our `CompiledRules`, compiled from the same file, must give the same outcome: the
//! same backend and byte-identical request head, the same redirect/return bytes, the
//! same deny/auth status.
//!
//! Needs root (network namespaces) and haproxy; skipped with a message otherwise.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use proxy_engine::http::head::{
    serialize_request, serialize_response, ConnectionInfo, Header, Headers, HttpVersion,
    RequestHead, ResponseHead,
};
use proxy_engine::http::rules::{CompiledRules, ResponseVerdict, Verdict};

mod common;
use common::Ns;

const HAPROXY: &str = "/usr/sbin/haproxy";
const FRONT_PORT: u16 = 8080;
const ECHO_PORT_BASE: u16 = 9101;

const CONFIG: &str = r#"global
  maxconn 200

userlist users
  user alice insecure-password s3cret
  user bob insecure-password hunter2

defaults
  mode http
  timeout connect 2s
  timeout client 5s
  timeout server 5s

frontend fe
  bind 127.0.0.1:8080
  acl is_api path_beg /api
  acl is_static path_end .png .css .js
  acl host_b hdr(host) -i b.example
  acl host_dom hdr_dom(host) -i c.example
  acl trusted src 127.0.0.10/31
  acl is_admin path_dir admin
  acl has_token url_param(token) -m found
  acl is_put method PUT
  acl is_bot hdr_sub(user-agent) -i bot
  acl xa_two hdr(x-a) two
  acl second_xa hdr(x-a,2) -m beg th
  acl versioned path_reg ^/v[0-9]+/
  acl low_port dst_port lt 1024
  http-request deny if is_admin !trusted
  http-request deny deny_status 429 if is_bot
  http-request auth realm Secret if { path_beg /private } !{ req.hdr(authorization) -m found }
  http-request auth if { path_beg /realmless }
  http-request auth realm Members if { path_beg /members } !{ http_auth(users) }
  http-request return status 200 content-type text/plain string pong hdr X-Src %[src] if { path /ping }
  http-request return status 204 if { path /empty }
  http-request return status 404 content-type text/html lf-string <p>%[path]</p> if { path_beg /gone }
  http-request redirect prefix /new code 301 if { path_beg /old }
  http-request redirect scheme https if { hdr(host) -i secure.example }
  http-request redirect location /login?from=%[path] if { path /needlogin }
  http-request redirect prefix / append-slash drop-query code 307 if { path /dir }
  http-request set-header X-Forwarded-Proto https if { ssl_fc }
  http-request set-header X-Client %[src]
  http-request add-header X-Host-Seen %[req.hdr(host)]
  http-request add-header X-Low-Port yes if low_port
  http-request del-header X-Remove
  http-request replace-value X-List ^v(\d)$ value\1
  http-request replace-header X-Full ^(.*)-(.*)$ \2-\1
  http-request set-path /static%[path] if is_static !{ path_beg /static }
  http-request replace-path ^/api/v1/(.*) /api/v2/\1
  http-request set-query %[query]&seen=1 if has_token
  http-request set-method GET if { method PURGE }
  http-request set-header X-Versioned 1 if versioned
  http-request set-header X-Second 1 if second_xa
  http-request set-uri /rewritten%[path] if { path_beg /seturi }
  http-request set-pathq /pq?x=1 if { path /setpathq }
  http-request replace-pathq ^/rpq.a=(.*)$ /done?b=\1 if { path_beg /rpq }
  http-request del-header x-drop- -m beg
  http-request redirect location %[req.hdr(x-goto)] ignore-empty if { path /goto }
  http-request redirect prefix https://example.org set-cookie SEEN=1 if { path_beg /pfx }
  http-request redirect location /bye clear-cookie SID code 303 if { path /logout }
  http-request set-header X-Abs 1 if HTTP_URL_ABS
  http-request set-header X-Last %[hdr(x-n)] if { hdr(x-n) -m found }
  http-request set-header X-First %[hdr(x-n,1)] if { hdr(x-n) -m found }
  http-request set-header X-Lower %[req.hdr(host),lower]
  http-request set-header X-Big 1 if { hdr_val(x-num) gt 5 }
  http-request set-header X-Dom 1 if { hdr_dom(x-d) -i foo }
  http-request set-header X-Param %[url_param(p)] if { url_param(p) -m found }
  http-request allow if { path /allowed }
  http-request deny if { path /allowed }
  http-request set-header X-After-Allow yes
  http-response set-header X-Resp-Status %[status]
  http-response add-header X-Backend-Seen %[res.hdr(x-backend)]
  http-response del-header x-echo-drop
  http-response replace-value X-Multi ^a(.)$ A\1
  http-response allow if { res.hdr(x-backend) b3 }
  http-response deny if { method DELETE }
  http-response set-header X-Not-B3 1
  redirect prefix /moved drop-query if { path_beg /legacy }
  redirect location http://elsewhere.example/ if { path /away }
  use_backend b2 if is_api
  use_backend b2 if { url_param(be) two }
  use_backend b3 if host_b or host_dom
  use_backend b3 if is_put xa_two
  use_backend %[req.hdr(x-backend)] if { req.hdr(x-backend) -m found }
  default_backend b1

backend b1
  server s 127.0.0.1:9101

backend b2
  server s 127.0.0.1:9102

backend b3
  server s 127.0.0.1:9103
"#;

struct Case {
    method: &'static str,
    uri: &'static str,
    version: HttpVersion,
    headers: Vec<(&'static str, &'static str)>,
    source: Ipv4Addr,
}

fn case(method: &'static str, uri: &'static str, headers: &[(&'static str, &'static str)]) -> Case {
    Case {
        method,
        uri,
        version: HttpVersion::Http11,
        headers: headers.to_vec(),
        source: Ipv4Addr::new(127, 0, 0, 1),
    }
}

fn from(mut c: Case, source: [u8; 4]) -> Case {
    c.source = Ipv4Addr::from(source);
    c
}

fn corpus() -> Vec<Case> {
    let h = ("Host", "a.example");
    let mut v = vec![
        case("GET", "/", &[h]),
        case("GET", "/api/users", &[h]),
        case("GET", "/api/v1/items?x=1", &[h]),
        case("GET", "/img/logo.png", &[h]),
        case("GET", "/static/app.js", &[h]),
        case("GET", "/style.CSS", &[h]),
        case("GET", "/", &[("Host", "B.Example")]),
        case("GET", "/", &[("Host", "www.c.example:8080")]),
        case("GET", "/", &[("Host", "notc.example")]),
        case("GET", "/admin/panel", &[h]),
        from(case("GET", "/admin/panel", &[h]), [127, 0, 0, 10]),
        from(case("GET", "/admin/panel", &[h]), [127, 0, 0, 11]),
        from(case("GET", "/admin/panel", &[h]), [127, 0, 0, 12]),
        case("GET", "/administrator", &[h]),
        case(
            "GET",
            "/",
            &[h, ("User-Agent", "Mozilla/5.0 (compatible; GoogleBot)")],
        ),
        case("GET", "/private/x", &[h]),
        case(
            "GET",
            "/private/x",
            &[h, ("Authorization", "Basic Zm9vOmJhcg==")],
        ),
        case("GET", "/realmless", &[h]),
        case("GET", "/ping", &[h]),
        case("GET", "/empty", &[h]),
        case("GET", "/gone/a%20b", &[h]),
        case("GET", "/old/page?q=1", &[h]),
        case("GET", "/x/y?z", &[("Host", "secure.example")]),
        case("GET", "/needlogin", &[h]),
        case("GET", "/dir?drop=me", &[h]),
        case("GET", "/search?token=abc&q=1", &[h]),
        case("GET", "/search?tokens=abc", &[h]),
        case("GET", "/search?a=1&token=", &[h]),
        case("PURGE", "/cache", &[h]),
        case("PUT", "/upload", &[h, ("X-A", "one, two")]),
        case("PUT", "/upload", &[h, ("X-A", "one"), ("X-A", "three")]),
        case("GET", "/", &[h, ("X-A", "one"), ("x-a", "thr, four")]),
        case("GET", "/v2/things", &[h]),
        case("GET", "/allowed", &[h]),
        case("GET", "/legacy/page?x=1", &[h]),
        case("GET", "/away", &[h]),
        case(
            "GET",
            "/h",
            &[
                h,
                ("X-Remove", "1"),
                ("X-List", "v1, v22 ,v3"),
                ("X-Full", "left-right"),
                ("X-Client", "spoofed"),
            ],
        ),
        case("GET", "/", &[h, ("X-Backend", "b2")]),
        case("GET", "/", &[h, ("X-Backend", "nope")]),
        case("DELETE", "/api/x", &[]),
        case("GET", "/seturi/a?q=1", &[h]),
        case("GET", "/setpathq?old=1", &[h]),
        case("GET", "/rpq?a=zz", &[h]),
        case("GET", "/rpq", &[h]),
        case(
            "GET",
            "/",
            &[
                h,
                ("X-Drop-Me", "1"),
                ("x-drop-too", "2"),
                ("X-Dropped", "3"),
            ],
        ),
        case("GET", "/goto", &[h, ("X-Goto", "/target?a=b")]),
        case("GET", "/goto", &[h]),
        case("GET", "/pfx/a?b=c", &[h]),
        case("GET", "/logout", &[h]),
        case("GET", "http://a.example/abs?x=1", &[h]),
        case("GET", "/", &[h, ("X-N", "1, 2"), ("X-N", "3")]),
        case("GET", "/", &[("Host", "MiXeD.Example")]),
        case("GET", "/", &[h, ("X-Num", "7abc"), ("X-D", "a.FOO.b")]),
        case("GET", "/", &[h, ("X-Num", "5"), ("X-D", "afoo.b")]),
        case("GET", "/q?be=one&be=two&p=first&p=second", &[h]),
        case("GET", "/q?p=&be=one", &[h]),
        case("GET", "/members", &[h]),
        case(
            "GET",
            "/members",
            &[h, ("Authorization", "Basic YWxpY2U6czNjcmV0")],
        ),
        case(
            "GET",
            "/members",
            &[h, ("Authorization", "basic   Ym9iOmh1bnRlcjI=")],
        ),
        case(
            "GET",
            "/members",
            &[h, ("Authorization", "Bas YWxpY2U6czNjcmV0")],
        ),
        case(
            "GET",
            "/members",
            &[h, ("Authorization", "Basic YWxpY2U6d3Jvbmc=")],
        ),
        case(
            "GET",
            "/members",
            &[h, ("Authorization", "Basic Y2Fyb2w6eA==")],
        ),
        case(
            "GET",
            "/members",
            &[h, ("Authorization", "Basic YWxpY2U6czNjcmV0=")],
        ),
        case(
            "GET",
            "/members",
            &[h, ("Authorization", "Bearer YWxpY2U6czNjcmV0")],
        ),
        case("DELETE", "/x", &[("Host", "b.example")]),
    ];
    v.push(Case {
        version: HttpVersion::Http10,
        ..case("GET", "/old-client", &[h])
    });
    v.push(Case {
        version: HttpVersion::Http10,
        ..case("GET", "/old-client", &[h, ("Connection", "keep-alive")])
    });
    v.push(case("GET", "/old-client", &[h, ("Connection", "close")]));
    v.push(Case {
        version: HttpVersion::Http10,
        ..case("GET", "/", &[h])
    });
    v
}

fn request_bytes(c: &Case) -> Vec<u8> {
    let mut out = format!("{} {} {}\r\n", c.method, c.uri, c.version.as_str());
    for (n, v) in &c.headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.into_bytes()
}

// ---------------------------------------------------------------- the lab

fn start_echo_servers(ns: &Ns) {
    let (tx, rx) = std::sync::mpsc::channel();
    ns.spawn(move || {
        for i in 0..3u16 {
            let listener = TcpListener::bind(("127.0.0.1", ECHO_PORT_BASE + i)).expect("bind echo");
            let name = format!("b{}", i + 1);
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    let Ok(conn) = conn else { continue };
                    let name = name.clone();
                    std::thread::spawn(move || echo(conn, &name));
                }
            });
        }
        tx.send(()).unwrap();
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("echo servers");
}

/// Answers one request with its head as the body.
fn echo(mut conn: TcpStream, name: &str) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let head_len = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let mut resp = format!(
        "HTTP/1.1 200 OK\r\nx-backend: {name}\r\nx-echo-drop: 1\r\nx-multi: a1, b2\r\ncontent-length: {head_len}\r\nconnection: close\r\n\r\n"
    )
    .into_bytes();
    resp.extend_from_slice(&buf[..head_len]);
    let _ = conn.write_all(&resp);
}

struct Haproxy {
    child: Child,
    cfg: PathBuf,
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.cfg);
    }
}

fn start_haproxy(ns: &Ns, cfg: &PathBuf) -> Haproxy {
    let child = Command::new("ip")
        .args(["netns", "exec", &ns.name, HAPROXY, "-db", "-f"])
        .arg(cfg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn haproxy");
    let hap = Haproxy {
        child,
        cfg: cfg.clone(),
    };
    let ready = ns.enter(|| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", FRONT_PORT)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    });
    assert!(ready, "haproxy did not start");
    hap
}

/// One request through haproxy: the response bytes and the client's address.
fn exchange(c: &Case) -> (Vec<u8>, SocketAddr) {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.bind(&SocketAddr::from((c.source, 0)).into())
        .expect("bind source");
    let front: SocketAddr = (Ipv4Addr::LOCALHOST, FRONT_PORT).into();
    sock.connect(&front.into()).expect("connect");
    let mut s: TcpStream = sock.into();
    let client = s.local_addr().unwrap();
    s.write_all(&request_bytes(c)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // Read the head, then content-length bytes (the connection may stay open).
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..p]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            if buf.len() >= p + 4 + len {
                buf.truncate(p + 4 + len);
                break;
            }
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    (buf, client)
}

fn load(path: &PathBuf) -> haproxy_conf::model::HaproxyConfig {
    let env = std::collections::BTreeMap::<String, String>::new();
    let options = haproxy_conf::LoadOptions {
        env: &env,
        features: haproxy_conf::version::FEATURES,
        resolver: &haproxy_conf::NoResolver,
        accounts: &haproxy_conf::host::AnyAccounts,
        host_files: false,
    };
    let loaded = haproxy_conf::load(std::slice::from_ref(path), &options);
    assert!(
        matches!(loaded.outcome, haproxy_conf::Outcome::Valid { .. }),
        "{:?}",
        loaded.diagnostics
    );
    loaded.config
}

fn split_response(bytes: &[u8]) -> (String, Vec<(String, String)>, Vec<u8>) {
    let p = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(bytes.len());
    let head = String::from_utf8_lossy(&bytes[..p]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or("").to_string();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    (status, headers, bytes.get(p + 4..).unwrap_or(&[]).to_vec())
}

/// Our outcome, in the shape haproxy's is described.
fn ours(rules: &CompiledRules, c: &Case, client: SocketAddr) -> String {
    let mut req = RequestHead {
        method: c.method.into(),
        uri: c.uri.into(),
        version: c.version,
        headers: Headers(
            c.headers
                .iter()
                .map(|(n, v)| Header {
                    name: (*n).into(),
                    value: (*v).into(),
                })
                .collect(),
        ),
    };
    let conn = ConnectionInfo {
        client,
        local: (Ipv4Addr::LOCALHOST, FRONT_PORT).into(),
        tls: false,
    };
    match rules.on_request(&mut req, &conn) {
        Verdict::Continue => {
            let backend = rules.backend_for(&req, &conn).map(|b| b.into_owned());
            // The server-side H1 multiplexer (the runtime's part) asks an HTTP/1.0
            // request to be kept alive: `connection: keep-alive` after the headers.
            if c.version == HttpVersion::Http10 && !req.headers.contains("connection") {
                req.headers.add("connection", "keep-alive");
            }
            let sent = serialize_request(&req);
            let name = backend.as_deref().unwrap_or("-");
            // The echo server's answer, then the http-response rules on it.
            let mut res = ResponseHead {
                version: HttpVersion::Http11,
                status: 200,
                reason: "OK".into(),
                headers: Headers(
                    [
                        ("x-backend", name.to_string()),
                        ("x-echo-drop", "1".into()),
                        ("x-multi", "a1, b2".into()),
                        ("content-length", sent.len().to_string()),
                    ]
                    .into_iter()
                    .map(|(n, v)| Header {
                        name: n.into(),
                        value: v,
                    })
                    .collect(),
                ),
            };
            match rules.on_response(&req, &conn, &mut res) {
                ResponseVerdict::Continue => format!(
                    "backend {name}\n{}{}",
                    String::from_utf8_lossy(&serialize_response(&res)),
                    String::from_utf8_lossy(&sent)
                ),
                ResponseVerdict::Deny { status } => format!("deny {status}"),
                ResponseVerdict::InternalError => "error 500".into(),
            }
        }
        Verdict::Redirect(r) | Verdict::Return(r) => {
            // The H1 multiplexer's connection handling (the runtime's part), modelled
            // here only to compare the whole answer.
            let body_pending = c.method == "POST" && req.headers.contains("content-length");
            let asks = req.headers.first("connection").map(str::to_ascii_lowercase);
            let connection = match (c.version, asks.as_deref()) {
                (HttpVersion::Http10, Some("keep-alive")) => Some("keep-alive"),
                (HttpVersion::Http10, _) | (_, Some("close")) => Some("close"),
                _ if body_pending => Some("close"),
                _ => None,
            };
            format!(
                "answer\n{}",
                String::from_utf8_lossy(&r.to_bytes_with_connection(connection))
            )
        }
        Verdict::Deny { status } => format!("deny {status}"),
        Verdict::Auth { realm } => format!("auth 401 Basic realm=\"{realm}\""),
        Verdict::InternalError => "error 500".into(),
        // No case of this test uses a service.
        Verdict::PrometheusExporter => "prometheus-exporter".into(),
    }
}

/// haproxy's outcome: the echo's backend and head, or the answer haproxy made.
fn theirs(bytes: &[u8]) -> String {
    let (status, headers, body) = split_response(bytes);
    if let Some((_, b)) = headers.iter().find(|(n, _)| n == "x-backend") {
        // The response head without the client-side connection handling (the runtime's).
        let mut head = format!("{status}\r\n");
        for (n, v) in headers.iter().filter(|(n, _)| n != "connection") {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
        return format!("backend {b}\n{head}\r\n{}", String::from_utf8_lossy(&body));
    }
    let code = status.split(' ').nth(1).unwrap_or("");
    match code {
        "401" => {
            let realm = headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("www-authenticate"))
                .map_or("", |(_, v)| v.as_str());
            format!("auth 401 {realm}")
        }
        "403" | "429" | "500" | "502" => format!("deny {code}"),
        _ => format!("answer\n{}", String::from_utf8_lossy(bytes)),
    }
}

#[test]
fn rules_match_haproxy() {
    if !common::can_run("http_rules_vs_haproxy") || !common::have_haproxy("http_rules_vs_haproxy") {
        return;
    }
    let cfg = std::env::temp_dir().join(format!("http-rules-{}.cfg", std::process::id()));
    std::fs::write(&cfg, CONFIG).unwrap();
    let config = load(&cfg);
    let rules = CompiledRules::compile(&config, config.proxy("fe").unwrap()).expect("compiles");

    let ns = Ns::new();
    start_echo_servers(&ns);
    let _hap = start_haproxy(&ns, &cfg);

    let cases = corpus();
    let results: Vec<(Vec<u8>, SocketAddr)> = ns.enter(|| cases.iter().map(exchange).collect());
    let mut mismatches = Vec::new();
    for (c, (bytes, client)) in cases.iter().zip(&results) {
        let want = theirs(bytes);
        let got = ours(&rules, c, *client);
        if want != got {
            mismatches.push(format!(
                "{} {} {:?} from {}\n  haproxy: {want:?}\n  ours:    {got:?}",
                c.method, c.uri, c.headers, c.source
            ));
        }
    }
    // The corpus must exercise every outcome, else the comparison proves little.
    let outcomes: Vec<String> = results.iter().map(|(b, _)| theirs(b)).collect();
    for kind in [
        "backend b1",
        "backend b2",
        "backend b3",
        "deny 403",
        "deny 429",
        "deny 502",
        "auth 401",
        "answer\nHTTP/1.1 30",
        "answer\nHTTP/1.1 200",
        "answer\nHTTP/1.1 204",
        "answer\nHTTP/1.1 404",
    ] {
        assert!(
            outcomes.iter().any(|o| o.starts_with(kind)),
            "no '{kind}' outcome in:\n{}",
            outcomes.join("\n")
        );
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} differ:\n{}",
        mismatches.len(),
        cases.len(),
        mismatches.join("\n")
    );
}
