//! The stats page against the real haproxy 2.6.12: the real `/usr/sbin/haproxy` runs
//! in a network namespace this test creates, with a `listen stats` (stats uri / auth /
//! realm / refresh), a `backend web` whose `up1` answers and whose `down2` refuses,
//! and a `frontend fe`. The test fetches the page without and with credentials, the
//! `;csv` export and a HEAD, then builds our response from the same configuration (as
//! `haproxy-conf` models it) and the snapshot of the equivalent state, and compares:
//! - 401, 303 (POST) and HEAD responses: every byte;
//! - 200 heads: every byte (they carry nothing variable);
//! - the CSV header line: every byte; each row field by field, except the fields
//!   listed in [`VARIABLE`] (traffic our own requests made on the stats proxy, and
//!   times), for which only "empty or not" must agree;
//! - the HTML page: the head and CSS every byte; per proxy table the same rows with
//!   the same classes, and the same visible cell texts except the variable ones.
//!
//! Needs root (network namespaces) and haproxy; skipped with a message otherwise.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use haproxy_conf::model::Stats;
use proxy_engine::health::CheckStatus;
use proxy_engine::http::head::{Header, Headers, HttpVersion, RequestHead};
use proxy_engine::http::stats::{
    self, BackendRow, BackendSide, FrontendRow, ProcessInfo, ProxyMode, ProxyStats, ServerCheck,
    ServerRow, ServerRunState, StatsSnapshot,
};

mod common;
use common::Ns;

const HAPROXY: &str = "/usr/sbin/haproxy";
const STATS_PORT: u16 = 8404;
const CREDS: &str = "YWRtaW46czNjcmV0"; // admin:s3cret

const CONFIG: &str = "\
global
    nbthread 1
defaults
    mode http
    maxconn 500
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen stats
    bind 127.0.0.1:8404
    stats enable
    stats uri /st
    stats auth admin:s3cret
    stats realm Ops\\ Team
    stats refresh 7s
backend web
    server up1 127.0.0.1:9001 check inter 200
    server down2 127.0.0.1:9002 check inter 200
frontend fe
    bind 127.0.0.1:8080
    default_backend web
";

/// CSV fields that legitimately differ between the two sides, by row:
/// the stats proxy's own traffic (the requests this test makes are counted by
/// haproxy before the page is rendered: sessions, bytes, rates, responses, h1 module;
/// `ereq` counts the readiness probe's connection closed without a request),
/// and every time (seconds since start or last change, check durations in ms).
const VARIABLE: &[(&str, &str, &[&str])] = &[
    (
        "stats",
        "FRONTEND",
        &[
            "scur",
            "smax",
            "stot",
            "bin",
            "bout",
            "ereq",
            "rate",
            "rate_max",
            "hrsp_2xx",
            "hrsp_3xx",
            "hrsp_4xx",
            "req_rate",
            "req_rate_max",
            "req_tot",
            "conn_rate",
            "conn_rate_max",
            "conn_tot",
            "intercepted",
            "h1_open_connections",
            "h1_open_streams",
            "h1_total_connections",
            "h1_total_streams",
            "h1_bytes_in",
            "h1_bytes_out",
        ],
    ),
    (
        "stats",
        "BACKEND",
        // cli_abrt: haproxy counts each `Connection: close` page this test fetched.
        &[
            "bin",
            "bout",
            "lastchg",
            "lastsess",
            "req_tot",
            "cli_abrt",
            "h1_bytes_in",
            "h1_bytes_out",
        ],
    ),
    ("web", "up1", &["lastchg", "check_duration"]),
    ("web", "down2", &["lastchg", "check_duration", "downtime"]),
    ("web", "BACKEND", &["lastchg"]),
];

struct Haproxy {
    child: Child,
    cfg: std::path::PathBuf,
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.cfg);
    }
}

fn start_haproxy(ns: &Ns) -> Haproxy {
    let cfg = std::env::temp_dir().join(format!("hastats-{}.cfg", std::process::id()));
    std::fs::write(&cfg, CONFIG).unwrap();
    let child = Command::new("ip")
        .args(["netns", "exec", &ns.name, HAPROXY, "-db", "-f"])
        .arg(&cfg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn haproxy");
    let hap = Haproxy { child, cfg };
    let ready = ns.enter(|| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", STATS_PORT)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    });
    assert!(ready, "haproxy did not start");
    hap
}

/// `up1`: answers any request with a 200 and closes.
fn start_web(ns: &Ns) {
    let (tx, rx) = std::sync::mpsc::channel();
    ns.spawn(move || {
        let listener = TcpListener::bind(("127.0.0.1", 9001)).unwrap();
        tx.send(()).unwrap();
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 1024];
                let _ = conn.read(&mut buf);
                let _ = conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
            });
        }
    });
    rx.recv_timeout(Duration::from_secs(5)).unwrap();
}

/// Sends `request` and reads until haproxy closes.
fn exchange(ns: &Ns, request: &str) -> Vec<u8> {
    let request = request.to_string();
    ns.enter(move || {
        let mut s = TcpStream::connect(("127.0.0.1", STATS_PORT)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut out = Vec::new();
        let mut buf = [0u8; 65536];
        loop {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
        out
    })
}

fn split_head(resp: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let at = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("head end")
        + 4;
    (resp[..at].to_vec(), resp[at..].to_vec())
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size");
        let size = usize::from_str_radix(std::str::from_utf8(&body[..eol]).unwrap(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[eol + 2..eol + 2 + size]);
        body = &body[eol + 2 + size + 2..];
    }
}

/// The request as our runtime would hand it over.
fn head(method: &str, uri: &str, headers: &[(&str, &str)]) -> RequestHead {
    RequestHead {
        method: method.into(),
        uri: uri.into(),
        version: HttpVersion::Http11,
        headers: Headers(
            headers
                .iter()
                .map(|(n, v)| Header {
                    name: (*n).into(),
                    value: (*v).into(),
                })
                .collect(),
        ),
    }
}

fn wire(method: &str, uri: &str, headers: &[(&str, &str)]) -> String {
    let mut s = format!("{method} {uri} HTTP/1.1\r\n");
    for (n, v) in headers {
        s.push_str(&format!("{n}: {v}\r\n"));
    }
    s.push_str("\r\n");
    s
}

fn stats_settings() -> Stats {
    let path = std::env::temp_dir().join(format!("hastats-ours-{}.cfg", std::process::id()));
    std::fs::write(&path, CONFIG).unwrap();
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
    let px = loaded
        .config
        .proxies
        .iter()
        .find(|p| p.name == "stats")
        .expect("listen stats");
    px.settings.stats.clone()
}

/// The state the engine would report for CONFIG once `down2` failed its first check:
/// what the reference shows and our engine would count the same way.
fn snapshot() -> StatsSnapshot {
    let fe = |slim| FrontendRow {
        slim,
        ..FrontendRow::default()
    };
    let check = |status, health, info: &str, fails, downs| ServerCheck {
        rise: 2,
        fall: 3,
        health,
        in_progress: false,
        status: Some(status),
        code: None,
        duration_ms: 0,
        info: info.into(),
        failed_checks: fails,
        down_transitions: downs,
        downtime: 0,
    };
    let server = |name: &str, sid, run, check, weight| ServerRow {
        name: name.into(),
        sid,
        run,
        weight,
        uweight: 1,
        check: Some(check),
        lastsess: -1,
        // HAProxy 2.6's idle-connection estimate of a server without traffic.
        need_conn_est: 1,
        addr: "127.0.0.1:900x".into(),
        ..ServerRow::default()
    };
    let backend = |slim, weight, act, servers: Vec<ServerRow>| BackendSide {
        row: BackendRow {
            slim,
            weight,
            act,
            lastsess: -1,
            algo: "roundrobin".into(),
            ..BackendRow::default()
        },
        servers,
    };
    StatsSnapshot {
        process: ProcessInfo {
            version: "2.6.12".into(),
            release_date: "2023/03/28".into(),
            pid: 1,
            ..ProcessInfo::default()
        },
        proxies: vec![
            ProxyStats {
                name: "stats".into(),
                iid: 1,
                mode: ProxyMode::Http,
                description: None,
                frontend: Some(fe(500)),
                backend: Some(backend(50, 0, 0, vec![])),
            },
            ProxyStats {
                name: "web".into(),
                iid: 2,
                mode: ProxyMode::Http,
                description: None,
                frontend: None,
                backend: Some(backend(
                    50,
                    1,
                    1,
                    vec![
                        server(
                            "up1",
                            1,
                            ServerRunState::Running,
                            check(CheckStatus::L4Ok, 4, "", 0, 0),
                            1,
                        ),
                        server(
                            "down2",
                            2,
                            ServerRunState::Stopped,
                            check(CheckStatus::L4Con, 0, "Connection refused", 1, 1),
                            1,
                        ),
                    ],
                )),
            },
            ProxyStats {
                name: "fe".into(),
                iid: 3,
                mode: ProxyMode::Http,
                description: None,
                frontend: Some(fe(500)),
                backend: None,
            },
        ],
    }
}

fn variable(px: &str, sv: &str, field: &str) -> bool {
    VARIABLE
        .iter()
        .any(|(p, s, fields)| *p == px && *s == sv && fields.contains(&field))
}

fn compare_csv(theirs: &str, ours: &str) {
    let t: Vec<&str> = theirs.lines().collect();
    let o: Vec<&str> = ours.lines().collect();
    assert_eq!(t[0], o[0], "CSV header line");
    assert_eq!(t.len(), o.len(), "row count:\n{theirs}\n---\n{ours}");
    assert!(theirs.ends_with(",\n") && ours.ends_with(",\n"));
    let names: Vec<&str> = t[0][2..].split(',').collect();
    let mut diffs = Vec::new();
    for (tr, or) in t[1..].iter().zip(&o[1..]) {
        let tf: Vec<&str> = tr.split(',').collect();
        let of: Vec<&str> = or.split(',').collect();
        assert_eq!(tf.len(), of.len(), "field count\n{tr}\n{or}");
        for (i, (a, b)) in tf.iter().zip(&of).enumerate() {
            let name = names.get(i).copied().unwrap_or("");
            let same = if variable(tf[0], tf[1], name) {
                a.is_empty() == b.is_empty()
            } else {
                a == b
            };
            if !same {
                diffs.push(format!(
                    "{}/{} {name}: theirs {a:?}, ours {b:?}",
                    tf[0], tf[1]
                ));
            }
        }
    }
    assert!(diffs.is_empty(), "CSV fields differ:\n{}", diffs.join("\n"));
}

/// Per `<tr>` of the proxy tables: its class and the visible text of each cell
/// (tooltips removed, tags stripped).
fn html_rows(page: &str) -> Vec<(String, Vec<String>)> {
    let tips = regex::Regex::new(r"(?s)<div class=tips>.*?</div>").unwrap();
    let tags = regex::Regex::new(r"<[^>]*>").unwrap();
    let body = tips.replace_all(page, "");
    let mut rows = Vec::new();
    for part in body.split("<tr class=\"").skip(1) {
        let class = part.split('"').next().unwrap().to_string();
        if class == "titre" {
            continue;
        }
        let row = part.split("</tr>").next().unwrap();
        let cells = row
            .split("<td")
            .skip(1)
            .map(|c| {
                let c = &c[c.find('>').map_or(0, |i| i + 1)..];
                tags.replace_all(c, "").trim().to_string()
            })
            .collect();
        rows.push((class, cells));
    }
    rows
}

/// `stats realm My Realm` keeps the first word only: the real 2.6.12 answers
/// `www-authenticate: Basic realm="My"` to it (measured by hand in a namespace).
#[test]
fn realm_is_the_first_word() {
    let text = CONFIG.replace("stats realm Ops\\ Team", "stats realm My Realm");
    let path = std::env::temp_dir().join(format!("hastats-realm-{}.cfg", std::process::id()));
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
    let px = loaded
        .config
        .proxies
        .iter()
        .find(|p| p.name == "stats")
        .unwrap();
    assert_eq!(px.settings.stats.realm.as_deref(), Some("My"));
}

#[test]
fn stats_page_matches_the_real_haproxy() {
    if !common::can_run("stats_vs_haproxy") || !common::have_haproxy("stats_vs_haproxy") {
        return;
    }
    let ns = Ns::new();
    start_web(&ns);
    let _hap = start_haproxy(&ns);
    let settings = stats_settings();
    let snap = snapshot();
    let auth = ("Authorization", &*format!("Basic {CREDS}"));
    let close = ("Connection", "close");

    // Wait until down2 failed its first check (L4CON) and up1 passed one.
    let csv_req = [("Host", "x"), auth, close];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, body) = split_head(&exchange(&ns, &wire("GET", "/st;csv", &csv_req)));
        let text = String::from_utf8(dechunk(&body)).unwrap();
        if text.contains(",DOWN,") && text.contains("L4OK") {
            break;
        }
        assert!(Instant::now() < deadline, "checks did not settle:\n{text}");
        std::thread::sleep(Duration::from_millis(100));
    }

    let ours = |method: &str, uri: &str, headers: &[(&str, &str)]| {
        let req = head(method, uri, headers);
        let taken = stats::match_request(&settings, &req, || false).expect("a stats request");
        stats::respond(&settings, &taken, "stats", &snap)
    };

    // 401 without and with wrong credentials, and with a malformed header.
    for headers in [
        vec![("Host", "x"), close],
        vec![
            ("Host", "x"),
            ("Authorization", "Basic YWRtaW46d3Jvbmc="),
            close,
        ],
        vec![("Host", "x"), ("Authorization", "Basic !!!"), close],
    ] {
        let theirs = exchange(&ns, &wire("GET", "/st", &headers));
        assert_eq!(
            String::from_utf8_lossy(&theirs),
            String::from_utf8_lossy(&ours("GET", "/st", &headers)),
            "401 for {headers:?}"
        );
        assert!(theirs.starts_with(b"HTTP/1.1 401"));
        // `stats realm Ops\ Team`: the escaped space is part of the one word.
        assert!(String::from_utf8_lossy(&theirs).contains("realm=\"Ops Team\""));
    }

    // Authorization quirks of 2.6 (`get_http_auth`, `base64dec`): both sides must
    // agree on 200 or 401 (heads compared whole; the page bodies differ in counters).
    for (value, status) in [
        ("bas YWRtaW46czNjcmV0", 200),           // a prefix of "Basic" is Basic
        ("Basic YWRtaW46czNjcmV0,zz", 200),      // the value stops at a comma
        ("Basic   YWRtaW46czNjcmV0", 200),       // several spaces
        ("Basic YWRtaW46czNjcmV0AGp1bms=", 200), // "admin:s3cret\0junk": stops at NUL
        ("Basic YWRtaW46czNjcg==ZXQ=", 200),     // a group after padding goes on
        ("Basics YWRtaW46czNjcmV0", 401),        // not a prefix of Basic
        ("Basic YWRtaW46czNjcmV0=", 401),        // bad length
    ] {
        let headers = [("Host", "x"), ("Authorization", value), close];
        let (th, _) = split_head(&exchange(&ns, &wire("GET", "/st;csv", &headers)));
        let (oh, _) = split_head(&ours("GET", "/st;csv", &headers));
        assert_eq!(
            String::from_utf8_lossy(&th),
            String::from_utf8_lossy(&oh),
            "Authorization: {value}"
        );
        assert!(
            th.starts_with(format!("HTTP/1.1 {status} ").as_bytes()),
            "{value}"
        );
    }

    // HTTP/1.0 (closes by default): the 401, and the page head where the H1
    // multiplexer puts `connection: close` before `transfer-encoding`.
    for headers in [vec![], vec![auth]] {
        let mut text = String::from("GET /st;csv HTTP/1.0\r\n");
        for (n, v) in &headers {
            text.push_str(&format!("{n}: {v}\r\n"));
        }
        text.push_str("\r\n");
        let (th, _) = split_head(&exchange(&ns, &text));
        let mut req = head("GET", "/st;csv", &headers);
        req.version = HttpVersion::Http10;
        let taken = stats::match_request(&settings, &req, || false).unwrap();
        let (oh, _) = split_head(&stats::respond(&settings, &taken, "stats", &snap));
        assert_eq!(
            String::from_utf8_lossy(&th),
            String::from_utf8_lossy(&oh),
            "HTTP/1.0"
        );
    }

    // HEAD, and POST without `stats admin`.
    for method in ["HEAD", "POST"] {
        let mut headers = vec![("Host", "x"), auth, close];
        if method == "POST" {
            headers.push(("Content-Length", "0"));
        }
        let theirs = exchange(&ns, &wire(method, "/st", &headers));
        assert_eq!(
            String::from_utf8_lossy(&theirs),
            String::from_utf8_lossy(&ours(method, "/st", &headers)),
            "{method}"
        );
    }

    // Not for the stats page: another path and another method.
    assert!(stats::match_request(&settings, &head("GET", "/other", &[]), || false).is_none());
    assert!(stats::match_request(&settings, &head("PUT", "/st", &[]), || false).is_none());

    // CSV: head exactly, body field by field.
    for uri in [
        "/st;csv",
        "/st;csv;norefresh",
        "/st;csv;up",
        "/st;csv;no-maint",
    ] {
        let (th, tb) = split_head(&exchange(&ns, &wire("GET", uri, &csv_req)));
        let (oh, ob) = split_head(&ours("GET", uri, &csv_req));
        assert_eq!(
            String::from_utf8_lossy(&th),
            String::from_utf8_lossy(&oh),
            "{uri}"
        );
        compare_csv(
            &String::from_utf8(dechunk(&tb)).unwrap(),
            &String::from_utf8(dechunk(&ob)).unwrap(),
        );
    }

    // HTML: head exactly; CSS and head block byte for byte; rows and visible cells.
    let html_req = [("Host", "x"), auth, close];
    let (th, tb) = split_head(&exchange(&ns, &wire("GET", "/st", &html_req)));
    let (oh, ob) = split_head(&ours("GET", "/st", &html_req));
    assert_eq!(String::from_utf8_lossy(&th), String::from_utf8_lossy(&oh));
    let theirs = String::from_utf8(dechunk(&tb)).unwrap();
    let mine = String::from_utf8(dechunk(&ob)).unwrap();
    let style_end = "</style></head>\n";
    let cut = |s: &str| s[..s.find(style_end).unwrap() + style_end.len()].to_string();
    assert_eq!(cut(&theirs), cut(&mine), "HTML head and CSS");
    assert_eq!(
        theirs.matches("<table class=\"tbl\"").count(),
        mine.matches("<table class=\"tbl\"").count(),
        "tables (two per proxy)"
    );
    let tr = html_rows(&theirs);
    let or = html_rows(&mine);
    // stats: FRONTEND, BACKEND; web: up1, down2, BACKEND; fe: FRONTEND.
    assert_eq!(tr.len(), 6, "{tr:?}");
    if std::env::var_os("STATS_DUMP").is_some() {
        std::fs::write("/tmp/stats-theirs.html", &theirs).unwrap();
        std::fs::write("/tmp/stats-ours.html", &mine).unwrap();
    }
    assert_eq!(
        tr.iter().map(|r| &r.0).collect::<Vec<_>>(),
        or.iter().map(|r| &r.0).collect::<Vec<_>>(),
        "row classes"
    );
    // Cells that show the stats proxy's own traffic or a time are compared by
    // presence only: frontend row of `stats`, and the Last / LastChk / status-age /
    // check-duration / downtime cells.
    for (i, ((class, t), (_, o))) in tr.iter().zip(&or).enumerate() {
        assert_eq!(
            t.len(),
            o.len(),
            "cells of row {i} ({class}):\n{t:?}\n{o:?}"
        );
        for (j, (a, b)) in t.iter().zip(o).enumerate() {
            let time_cell = j == 12 || j == 22 || j == 23 || j == 30 || j == 29;
            let own_traffic = i <= 1;
            if time_cell || own_traffic {
                continue;
            }
            assert_eq!(a, b, "row {i} ({class}) cell {j}:\n{t:?}\n{o:?}");
        }
        // Status and check cells without their time parts.
        if class.starts_with("active") || class == "backend" {
            let strip = |s: &str| s.split_once(' ').map_or(s.to_string(), |x| x.1.to_string());
            assert_eq!(strip(&t[22]), strip(&o[22]), "status of row {i}");
            let before_in = |s: &str| s.split(" in ").next().unwrap_or("").to_string();
            assert_eq!(before_in(&t[23]), before_in(&o[23]), "check of row {i}");
        }
    }
    assert!(theirs.ends_with("</body></html>\n") && mine.ends_with("</body></html>\n"));
}
