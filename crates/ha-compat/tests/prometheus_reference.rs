//! `http-request use-service prometheus-exporter` against the real HAProxy 2.6.12: the
//! same configuration run by `/usr/sbin/haproxy` and by ha-compat invoked as
//! `haproxy`, each in a network namespace of its own, the same requests to both.
//!
//! Compared: the response heads (status line, header lines in order), the metric
//! families in order with their `# HELP`/`# TYPE` lines, every sample's name and
//! labels in order (the `build_info` version aside), the values that do not depend
//! on timing or on what ha-compat does not measure (server/backend/frontend states,
//! weights, check states and codes, limits), the `scope=`/`no-maint` options, the
//! 400 of a malformed query byte for byte, HEAD, keep-alive, another path answered by
//! the frontend's `default_backend` without servers (503, as docs/operations.md
//! advises), and the log lines (but the pages' byte counts, which follow the values). Our page is also read by the
//! Prometheus text parser (`prometheus_client`, Debian's python3-prometheus-client).
//!
//! Needs root and haproxy (`apt-get install -y haproxy`); skipped with a message otherwise.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

mod common;

use common::{can_run, sleep_ms, AfterGreeting, Daemon, Ns, Web, HAPROXY};

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
    http-request use-service prometheus-exporter if { path /metrics }
    default_backend empty
frontend fe
    bind 127.0.0.1:8080
    default_backend be
listen tcpfe
    bind 127.0.0.1:8090
    mode tcp
    server t1 127.0.0.1:9004
backend be
    server s1 127.0.0.1:9001 check inter 300
    server s2 127.0.0.1:9002 weight 3 disabled
    server s3 127.0.0.1:9003 check inter 300 fall 1
backend empty
    mode http
";

/// Families whose values are compared (the others follow timing, or figures ha-compat
/// does not measure: see docs/compatibility.md).
const STABLE: &[&str] = &[
    "haproxy_process_nbproc",
    "haproxy_process_relative_process_id",
    "haproxy_process_max_connections",
    "haproxy_process_limit_connection_rate",
    "haproxy_process_limit_session_rate",
    "haproxy_process_stopping",
    "haproxy_frontend_status",
    "haproxy_frontend_limit_sessions",
    "haproxy_frontend_limit_session_rate",
    "haproxy_frontend_intercepted_requests_total",
    "haproxy_frontend_http_requests_total",
    "haproxy_frontend_http_responses_total",
    "haproxy_backend_http_requests_total",
    "haproxy_server_http_responses_total",
    "haproxy_backend_status",
    "haproxy_backend_weight",
    "haproxy_backend_active_servers",
    "haproxy_backend_backup_servers",
    "haproxy_backend_uweight",
    "haproxy_backend_agg_server_status",
    "haproxy_backend_agg_server_check_status",
    "haproxy_backend_agg_check_status",
    "haproxy_server_status",
    "haproxy_server_weight",
    "haproxy_server_uweight",
    "haproxy_server_limit_sessions",
    "haproxy_server_queue_limit",
    "haproxy_server_current_throttle",
    "haproxy_server_idle_connections_limit",
    "haproxy_server_check_status",
    "haproxy_server_check_code",
    "haproxy_server_check_up_down_total",
    "haproxy_server_last_session_seconds",
];

/// One answer: its head lines (status line first) and its body, de-chunked.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Answer {
    head: Vec<String>,
    body: String,
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size =
            usize::from_str_radix(std::str::from_utf8(&raw[..eol]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[eol + 2..eol + 2 + size]);
        raw = &raw[eol + 2 + size + 2..];
    }
}

/// The first answer in `raw` and its length, once it is whole (`eof`: the connection
/// closed, what came is all there is).
fn split(raw: &[u8], head_only: bool, eof: bool) -> Option<(Answer, usize)> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head: Vec<String> = String::from_utf8_lossy(&raw[..end])
        .split("\r\n")
        .map(str::to_string)
        .collect();
    let rest = &raw[end + 4..];
    let chunked = head
        .iter()
        .any(|h| h.eq_ignore_ascii_case("transfer-encoding: chunked"));
    let (body, used) = if head_only {
        (Vec::new(), 0)
    } else if chunked {
        // The body ends with the last chunk and its empty trailer.
        let used = match rest.windows(5).position(|w| w == b"0\r\n\r\n") {
            Some(p) => p + 5,
            None if eof => rest.len(),
            None => return None,
        };
        (dechunk(&rest[..used]), used)
    } else {
        let len: usize = head
            .iter()
            .find_map(|h| h.strip_prefix("content-length: "))
            .map_or(rest.len(), |v| v.parse().unwrap());
        if rest.len() < len {
            return None;
        }
        (rest[..len].to_vec(), len)
    };
    Some((
        Answer {
            head,
            body: String::from_utf8(body).unwrap(),
        },
        end + 4 + used,
    ))
}

/// Sends `requests` on one connection (the last one closing it) and splits the
/// answers.
fn exchange(ns: &Ns, port: u16, requests: Vec<(String, bool)>) -> Vec<Answer> {
    ns.spawn(move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut answers = Vec::new();
        let mut buf = Vec::new();
        for (request, head_only) in requests {
            s.write_all(request.as_bytes()).unwrap();
            loop {
                if let Some((answer, used)) = split(&buf, head_only, false) {
                    buf.drain(..used);
                    answers.push(answer);
                    break;
                }
                let mut chunk = [0u8; 65536];
                match s.read(&mut chunk) {
                    Ok(0) | Err(_) => {
                        answers.extend(split(&buf, head_only, true).map(|(a, _)| a));
                        return answers;
                    }
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
        }
        answers
    })
    .join()
    .unwrap()
}

fn get(path: &str, close: bool) -> (String, bool) {
    let conn = if close { "Connection: close\r\n" } else { "" };
    (
        format!("GET {path} HTTP/1.1\r\nHost: x\r\n{conn}\r\n"),
        false,
    )
}

struct Observed {
    /// `/metrics` twice on one connection (the second page counts the first request).
    pages: Vec<Answer>,
    /// `?scope=backend&scope=server&no-maint`.
    scoped: Answer,
    /// `?scope=` (nothing), `?scope=foo` (400), HEAD.
    empty: Answer,
    bad: Answer,
    head: Answer,
    /// Another path: the 503 of the backend without servers.
    other: Answer,
    log: Vec<String>,
}

fn play(program: &Path, dir: &Path) -> Observed {
    let ns = Ns::new("hacpmx");
    let cfg = dir.join("haproxy.cfg");
    std::fs::write(&cfg, CFG).unwrap();
    let log = dir.join("log");
    let _s1 = Web::start(&ns, 9001, "s1", AfterGreeting::Close);
    let _t1 = Web::start(&ns, 9004, "t1", AfterGreeting::Close);
    let mut daemon = Daemon::haproxy_db(
        &ns,
        program,
        &cfg,
        Stdio::from(std::fs::File::create(&log).unwrap()),
        Stdio::null(),
    );
    ns.wait_for_port("127.0.0.1:8405");
    // s1 passes its first check, s3 fails its own (fall 1).
    sleep_ms(1000);
    let pages = exchange(
        &ns,
        8405,
        vec![get("/metrics", false), get("/metrics", true)],
    );
    let scoped = exchange(
        &ns,
        8405,
        vec![get("/metrics?scope=backend&scope=server&no-maint", true)],
    )
    .remove(0);
    let empty = exchange(&ns, 8405, vec![get("/metrics?scope=", true)]).remove(0);
    let bad = exchange(&ns, 8405, vec![get("/metrics?scope=foo", false)]).remove(0);
    let head = exchange(
        &ns,
        8405,
        vec![(
            "HEAD /metrics?scope=global HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                .to_string(),
            true,
        )],
    )
    .remove(0);
    let other = exchange(&ns, 8405, vec![get("/other", true)]).remove(0);
    sleep_ms(300);
    let _ = daemon.0.kill();
    let _ = daemon.0.wait();
    let log = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        // The readiness probe's connection (closed unused) is left out: haproxy
        // 2.6.12 logs it `<BADREQ>` `CR--`, ours does not (a general difference of
        // the HTTP session, not the exporter's).
        .filter(|l| l.contains(" prometheus ") && !l.contains("<BADREQ>"))
        .map(str::to_string)
        .collect();
    Observed {
        pages,
        scoped,
        empty,
        bad,
        head,
        other,
        log,
    }
}

/// A page's lines as `(family header lines, samples)`: the `# HELP`/`# TYPE` lines in
/// order, and each sample as (name and labels, value), the version label blanked.
fn parse_page(body: &str) -> (Vec<String>, Vec<(String, String)>) {
    let mut headers = Vec::new();
    let mut samples = Vec::new();
    for line in body.lines() {
        if line.starts_with('#') {
            headers.push(line.to_string());
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap();
        let series = match series.find("version=\"") {
            Some(at) => format!("{}version=\"\"}}", &series[..at]),
            None => series.to_string(),
        };
        samples.push((series, value.to_string()));
    }
    (headers, samples)
}

fn family_of(series: &str) -> &str {
    series.split('{').next().unwrap()
}

/// A log line without its client port, date, `%Ta` (the last timer) and byte count
/// (`%B`, field 7 of the `option httplog` line) unless `keep_bytes`.
fn log_shape(line: &str, keep_bytes: bool) -> String {
    let fields: Vec<&str> = line.split(' ').collect();
    fields
        .iter()
        .enumerate()
        .map(|(i, f)| match i {
            0 => f.split(':').next().unwrap().to_string(),
            1 => "[date]".to_string(),
            4 => match f.rsplit_once('/') {
                Some((timers, _)) => format!("{timers}/[Ta]"),
                None => (*f).to_string(),
            },
            6 if !keep_bytes => "[bytes]".to_string(),
            _ => (*f).to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn prometheus_parses(body: &str) -> Result<usize, String> {
    let script = [
        "import sys",
        "from prometheus_client.parser import text_string_to_metric_families",
        "n = 0",
        "for f in text_string_to_metric_families(sys.stdin.read()):",
        "    n += len(f.samples)",
        "print(n)",
    ]
    .join("\n");
    let mut child = std::process::Command::new("/usr/bin/python3")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    // A parser that stops early closes the pipe: its message says why.
    let _ = child.stdin.take().unwrap().write_all(body.as_bytes());
    let out = child.wait_with_output().unwrap();
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().parse().unwrap())
}

fn python_prometheus_client() -> bool {
    std::process::Command::new("/usr/bin/python3")
        .args(["-c", "import prometheus_client"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn prometheus_exporter_answers_like_haproxy_2_6() {
    if !can_run("prometheus_reference") {
        return;
    }
    let dir: PathBuf = std::env::temp_dir().join(format!("hacpmx-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let link = dir.join("haproxy");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_ha-compat"), &link).unwrap();
    let reference = play(Path::new(HAPROXY), &dir);
    let ours = play(&link, &dir);
    let _ = std::fs::remove_dir_all(&dir);

    // The scenario did what it is for, on the reference.
    assert_eq!(reference.pages.len(), 2, "{:?}", reference.pages);
    let (_, ref_samples) = parse_page(&reference.pages[1].body);
    let value = |samples: &[(String, String)], series: &str| {
        samples
            .iter()
            .find(|(s, _)| s == series)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(
        value(
            &ref_samples,
            "haproxy_server_status{proxy=\"be\",server=\"s1\",state=\"UP\"}"
        ),
        "1"
    );
    assert_eq!(
        value(
            &ref_samples,
            "haproxy_server_check_status{proxy=\"be\",server=\"s3\",state=\"L4CON\"}"
        ),
        "1"
    );

    let mut differences = Vec::new();
    let mut same = |what: &str, a: &dyn std::fmt::Debug, b: &dyn std::fmt::Debug| {
        let (a, b) = (format!("{a:?}"), format!("{b:?}"));
        if a != b {
            differences.push(format!("{what}:\n  reference {a}\n  ours      {b}"));
        }
    };
    same("pages", &reference.pages.len(), &ours.pages.len());
    for (i, (theirs, mine)) in reference.pages.iter().zip(&ours.pages).enumerate() {
        same(&format!("page {i} head"), &theirs.head, &mine.head);
        let (ref_headers, ref_samples) = parse_page(&theirs.body);
        let (our_headers, our_samples) = parse_page(&mine.body);
        same(&format!("page {i} HELP/TYPE"), &ref_headers, &our_headers);
        let series = |s: &[(String, String)]| s.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        same(
            &format!("page {i} samples"),
            &series(&ref_samples),
            &series(&our_samples),
        );
        let stable = |s: &[(String, String)]| {
            s.iter()
                .filter(|(n, _)| STABLE.contains(&family_of(n)))
                .cloned()
                .collect::<Vec<_>>()
        };
        same(
            &format!("page {i} stable values"),
            &stable(&ref_samples),
            &stable(&our_samples),
        );
    }
    let shape = |a: &Answer| {
        let (headers, samples) = parse_page(&a.body);
        (
            a.head.clone(),
            headers,
            samples.into_iter().map(|(n, _)| n).collect::<Vec<_>>(),
        )
    };
    same(
        "scope=backend&scope=server&no-maint",
        &shape(&reference.scoped),
        &shape(&ours.scoped),
    );
    same("scope= (empty)", &reference.empty, &ours.empty);
    same("scope=foo (400)", &reference.bad, &ours.bad);
    same("HEAD", &reference.head, &ours.head);
    same("another path (503)", &reference.other, &ours.other);
    same("log lines", &reference.log.len(), &ours.log.len());
    for (i, (theirs, mine)) in reference.log.iter().zip(&ours.log).enumerate() {
        // The pages' sizes follow their values; the others' are exact.
        let keep_bytes = matches!(i, 3 | 4 | 6);
        same(
            &format!("log line {i}"),
            &log_shape(theirs, keep_bytes),
            &log_shape(mine, keep_bytes),
        );
    }
    assert!(
        differences.is_empty(),
        "{} differences:\n{}",
        differences.len(),
        differences.join("\n")
    );

    if python_prometheus_client() {
        for page in ours.pages.iter().chain([&ours.scoped]) {
            let parsed = prometheus_parses(&page.body);
            let lines = page.body.lines().filter(|l| !l.starts_with('#')).count();
            assert_eq!(parsed, Ok(lines), "{}", page.body);
        }
    } else {
        eprintln!(
            "prometheus_reference: /usr/bin/python3 has no prometheus_client \
             (apt-get install -y python3-prometheus-client): page not parsed"
        );
    }
}
