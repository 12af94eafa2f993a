//! `ha-compat status` against a running daemon, in a network namespace of its own: the
//! supervisor runs the VRRP child (one instance, a VIP, a `vrrp_script`) with
//! `--status-dir`, and the REAL HAProxy 2.6.12 runs with a `stats socket`, found through
//! its haproxy.cfg. The backend part must say what HAProxy itself says in `show stat`
//! (asked directly in the test); the metrics must parse with the Prometheus project's own
//! Python parser.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{sleep_ms, veth_ns, AfterGreeting, Daemon, Web};

const VIP: &str = "10.98.0.100";

/// Removes the test's directory at the end, whatever happens.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn write_configs(dir: &Path) -> (PathBuf, PathBuf) {
    let keepalived = dir.join("keepalived.conf");
    std::fs::write(
        &keepalived,
        format!(
            "global_defs {{\n    script_user root\n    enable_script_security\n}}\n\
             vrrp_script chk_ok {{\n    script \"/bin/true\"\n    interval 1\n    \
             weight 10\n}}\n\
             vrrp_instance VI_1 {{\n    state MASTER\n    interface veth0\n    \
             virtual_router_id 51\n    priority 150\n    advert_int 1\n    \
             virtual_ipaddress {{\n        {VIP}/24\n    }}\n    \
             track_script {{\n        chk_ok\n    }}\n}}\n"
        ),
    )
    .unwrap();
    let haproxy = dir.join("haproxy.cfg");
    std::fs::write(
        &haproxy,
        format!(
            "global\n    stats socket {}/admin.sock mode 600 level admin\n\
             defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 5s\n    \
             timeout server 5s\n\
             frontend fe\n    bind 127.0.0.1:8082\n    default_backend be_web\n\
             backend be_web\n    server web1 127.0.0.1:9301 check inter 200 fall 1 rise 1\n    \
             server web2 127.0.0.1:9302 check inter 200 fall 1 rise 1\n",
            dir.display()
        ),
    )
    .unwrap();
    (keepalived, haproxy)
}

fn status(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ha-compat"))
        .arg("status")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// One line to a unix socket, the whole answer back (empty when nobody listens yet).
fn ask(path: &Path, line: &str) -> String {
    let Ok(mut s) = std::os::unix::net::UnixStream::connect(path) else {
        return String::new();
    };
    s.write_all(line.as_bytes()).unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text
}

/// HAProxy's own `show stat`, as column name -> value per server row of `backend`.
fn reference_servers(socket: &Path, backend: &str) -> Vec<Vec<(String, String)>> {
    let text = ask(socket, "show stat\n");
    let mut lines = text.lines();
    let Some(first) = lines.next() else {
        return Vec::new();
    };
    let header: Vec<String> = first
        .trim_start_matches("# ")
        .split(',')
        .map(String::from)
        .collect();
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            header
                .iter()
                .cloned()
                .zip(l.split(',').map(String::from))
                .collect::<Vec<_>>()
        })
        .filter(|row| {
            let get = |n: &str| row.iter().find(|(k, _)| k == n).unwrap().1.clone();
            get("pxname") == backend && get("svname") != "BACKEND"
        })
        .collect()
}

fn field(row: &[(String, String)], name: &str) -> String {
    row.iter().find(|(k, _)| k == name).unwrap().1.clone()
}

/// The samples the Prometheus project's Python parser reads from `text`, one
/// `name labels-as-json value` line each (it raises on anything malformed).
fn python_samples(text: &str) -> String {
    let mut child = Command::new("/usr/bin/python3")
        .args([
            "-c",
            "import sys, json\n\
             from prometheus_client.parser import text_string_to_metric_families\n\
             for family in text_string_to_metric_families(sys.stdin.read()):\n\
             \x20   for s in family.samples:\n\
             \x20       print(s.name, json.dumps(s.labels, sort_keys=True), s.value)\n",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "prometheus_client refused the metrics: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether Debian's `prometheus_client` can be imported (else the test is skipped).
fn has_prometheus_client() -> bool {
    let ok = Command::new("/usr/bin/python3")
        .args(["-c", "import prometheus_client"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("SKIP status test: needs /usr/bin/python3 with prometheus_client");
    }
    ok
}

#[test]
fn status_shows_the_vrrp_instance_and_real_haproxys_servers() {
    if !common::can_run("status test") {
        return;
    }
    if !has_prometheus_client() {
        return;
    }
    let ns = veth_ns("hacstat", "10.98.0.1/24");
    let dir = TempDir(std::env::temp_dir().join(format!("hacstat-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let (keepalived, haproxy_cfg) = write_configs(&dir.0);
    let status_dir = dir.0.join("run");
    let status_arg = status_dir.to_str().unwrap().to_string();
    let cfg_arg = haproxy_cfg.to_str().unwrap().to_string();
    let log_path = dir.0.join("supervisor.log");
    let log_file = std::fs::File::create(&log_path).unwrap();
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();

    let _web1 = Web::start(&ns, 9301, "web1", AfterGreeting::Close);
    let haproxy = Daemon::haproxy_db(
        &ns,
        Path::new(common::HAPROXY),
        &haproxy_cfg,
        Stdio::null(),
        Stdio::null(),
    );
    let mut supervisor = Daemon(
        Command::new("ip")
            .args(["netns", "exec", &ns.0, env!("CARGO_BIN_EXE_ha-compat")])
            .args(["--status-dir", &status_arg, "-f"])
            .arg(&keepalived)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .unwrap(),
    );

    // The socket: mode 0600.
    let vrrp_sock = status_dir.join("vrrp.sock");
    let start = Instant::now();
    while !vrrp_sock.exists() && start.elapsed() < Duration::from_secs(10) {
        sleep_ms(20);
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&vrrp_sock)
        .unwrap_or_else(|e| panic!("{}: {e}\n{}", vrrp_sock.display(), log()))
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // MASTER, with the script's weight added; HAProxy's checks settled (web1 answers,
    // nothing listens for web2).
    let admin = dir.0.join("admin.sock");
    let start = Instant::now();
    let json = loop {
        let (_, text) = status(&["--json", "--status-dir", &status_arg, "-f", &cfg_arg]);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let instance = &v["vrrp"]["data"]["instances"][0];
        let settled = admin.exists() && {
            let servers = reference_servers(&admin, "be_web");
            servers.len() == 2
                && field(&servers[0], "status") == "UP"
                && field(&servers[1], "status") == "DOWN"
        };
        if instance["state"] == "MASTER" && instance["effective_priority"] == 160 && settled {
            break v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "never MASTER at 160 with web1 UP, web2 DOWN: {text}\n{}",
            log()
        );
        sleep_ms(200);
    };
    let instance = &json["vrrp"]["data"]["instances"][0];
    assert_eq!(json["schema"], 1);
    assert_eq!(instance["name"], "VI_1");
    assert_eq!(instance["priority"], 150);
    assert_eq!(instance["vrid"], 51);
    assert_eq!(instance["interface"], "veth0");
    assert_eq!(instance["vips"], serde_json::json!([format!("{VIP}/24")]));
    assert_eq!(
        instance["trackers"][0],
        serde_json::json!({"kind": "script", "name": "chk_ok", "weight": 10, "status": "GOOD"})
    );
    assert!(instance["counters"]["advert_sent"].as_u64().unwrap() > 0);
    assert_eq!(instance["counters"]["become_master"], 1);
    assert_eq!(json["backends"]["socket"], admin.to_str().unwrap());

    // The backend part says what HAProxy says (asked once more: the counters move).
    let (code, table) = status(&["--status-dir", &status_arg, "-f", &cfg_arg]);
    let reference = reference_servers(&admin, "be_web");
    eprintln!("{table}");
    assert_eq!(code, 0, "{table}");
    let (_, again) = status(&["--json", "--status-dir", &status_arg, "-f", &cfg_arg]);
    let again: serde_json::Value = serde_json::from_str(&again).unwrap();
    let servers = again["backends"]["data"][0]["servers"].as_array().unwrap();
    assert_eq!(again["backends"]["data"][0]["name"], "be_web");
    assert_eq!(servers.len(), reference.len());
    for (ours, theirs) in servers.iter().zip(&reference) {
        assert_eq!(ours["name"], field(theirs, "svname"));
        assert_eq!(ours["status"], field(theirs, "status"));
        // `* ` marks a check running when HAProxy answered; the view shows the result.
        let their_check = field(theirs, "check_status");
        let their_check = their_check.trim_start_matches("* ");
        assert_eq!(ours["check_status"], their_check);
        assert_eq!(ours["check_desc"], field(theirs, "check_desc"));
        assert_eq!(ours["weight"].to_string(), field(theirs, "weight"));
        assert_eq!(ours["total_sessions"].to_string(), field(theirs, "stot"));
        let line = table
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(&field(theirs, "svname")))
            .unwrap_or_else(|| panic!("{table}"));
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words[0], "be_web", "{line}");
        assert_eq!(words[2], field(theirs, "status"), "{line}");
        assert_eq!(words[3], their_check, "{line}");
    }
    let vrrp_line = table
        .lines()
        .find(|l| l.trim_start().starts_with("VI_1"))
        .unwrap_or_else(|| panic!("{table}"));
    for word in [
        "MASTER",
        "160 (configured 150)",
        &format!("{VIP}/24"),
        "script chk_ok GOOD (weight 10)",
    ] {
        assert!(
            vrrp_line.contains(word),
            "{word} not in {vrrp_line}\n{table}"
        );
    }

    // The metrics, read by Prometheus' own parser.
    let metrics =
        vrrp_engine::status::request(&vrrp_sock, "metrics", Duration::from_secs(3)).unwrap();
    let samples = python_samples(&metrics);
    for expected in [
        "keepalived_up {} 1.0".to_string(),
        format!(
            "keepalived_vrrp_state {{\"iname\": \"VI_1\", \"intf\": \"veth0\", \"ip_address\": \"{VIP}/24\", \"vrid\": \"51\"}} 2.0"
        ),
        "keepalived_vrrp_effective_priority {\"iname\": \"VI_1\", \"intf\": \"veth0\", \"vrid\": \"51\"} 160.0".into(),
        "keepalived_vrrp_priority {\"iname\": \"VI_1\", \"intf\": \"veth0\", \"vrid\": \"51\"} 150.0".into(),
        "keepalived_become_master_total {\"iname\": \"VI_1\", \"intf\": \"veth0\", \"vrid\": \"51\"} 1.0".into(),
        "keepalived_script_status {\"name\": \"chk_ok\"} 1.0".into(),
        "keepalived_script_state {\"name\": \"chk_ok\"} 0.0".into(),
    ] {
        assert!(samples.lines().any(|l| l == expected), "{expected} not in\n{samples}");
    }
    assert!(samples
        .lines()
        .any(|l| l.starts_with("keepalived_advertisements_sent_total ")));

    // An unknown request: one error line.
    let answer = ask(&vrrp_sock, "show stat\n");
    assert!(
        answer.starts_with("error: ") && answer.lines().count() == 1,
        "{answer}"
    );

    // Stopped: the socket goes; status says which one is missing; the backends still read.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(supervisor.0.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let _ = supervisor.0.wait();
    assert!(!vrrp_sock.exists(), "{}", log());
    let (code, table) = status(&["--status-dir", &status_arg, "-f", &cfg_arg]);
    assert_eq!(code, 0, "{table}");
    assert!(
        table.contains(&format!("no VRRP status socket at {}", vrrp_sock.display())),
        "{table}"
    );
    assert!(table.contains("web1"), "{table}");
    drop(haproxy);
}

#[test]
fn status_without_a_daemon_says_what_is_missing_and_fails() {
    let dir = std::env::temp_dir().join(format!("hacstat-none-{}", std::process::id()));
    let dir_arg = dir.to_str().unwrap();
    let cfg = dir.join("missing.cfg");
    let (code, text) = status(&["--status-dir", dir_arg, "-f", cfg.to_str().unwrap()]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains(&format!("no VRRP status socket at {dir_arg}/vrrp.sock")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "no HAProxy stats socket: {dir_arg}/haproxy.sock is missing and no `stats socket` (unix) in {}",
            cfg.display()
        )),
        "{text}"
    );
    let (code, text) = status(&[
        "--json",
        "--status-dir",
        dir_arg,
        "-f",
        cfg.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(v["vrrp"]["error"].is_string() && v["vrrp"]["data"].is_null());
    assert!(v["backends"]["error"].is_string() && v["backends"]["socket"].is_null());
}

/// A chunked body's data.
fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    out
}

/// Both engines are ha-compat's, under the supervisor: `ha-compat status` reads the proxy
/// child's own status socket (`haproxy.sock`, though haproxy.cfg names no `stats socket`),
/// and HAProxy's Prometheus exporter page of the proxy child carries the VRRP child's
/// metrics too: one scrape target for the node, parsed by `prometheus_client`.
#[test]
fn the_supervisor_gives_one_status_view_and_one_scrape_target() {
    if !common::can_run("status test") {
        return;
    }
    if !has_prometheus_client() {
        return;
    }
    let ns = veth_ns("hacstat", "10.98.0.1/24");
    let dir = TempDir(std::env::temp_dir().join(format!("hacstat-sup-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let (keepalived, _) = write_configs(&dir.0);
    let haproxy_cfg = dir.0.join("ours.cfg");
    std::fs::write(
        &haproxy_cfg,
        "defaults\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend fe\n    mode tcp\n    bind 127.0.0.1:8082\n    default_backend be_web\n\
         backend be_web\n    mode tcp\n    server web1 127.0.0.1:9301 check inter 200 fall 1 rise 1\n    \
         server web2 127.0.0.1:9302 check inter 200 fall 1 rise 1\n\
         frontend prometheus\n    mode http\n    bind 127.0.0.1:8405\n    \
         http-request use-service prometheus-exporter if { path /metrics }\n    \
         default_backend none\n\
         backend none\n    mode http\n",
    )
    .unwrap();
    let status_dir = dir.0.join("run");
    let status_arg = status_dir.to_str().unwrap().to_string();
    let log_path = dir.0.join("supervisor.log");
    let log_file = std::fs::File::create(&log_path).unwrap();
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let _web1 = Web::start(&ns, 9301, "web1", AfterGreeting::Close);
    let _supervisor = Daemon(
        Command::new("ip")
            .args(["netns", "exec", &ns.0, env!("CARGO_BIN_EXE_ha-compat")])
            .args(["--status-dir", &status_arg, "-f"])
            .arg(&keepalived)
            .arg("-f")
            .arg(&haproxy_cfg)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .unwrap(),
    );
    // One view: the instance MASTER, the servers as our checks say.
    let start = Instant::now();
    let table = loop {
        let (code, text) = status(&["--status-dir", &status_arg, "-f", "/nonexistent.cfg"]);
        let up = |server: &str, state: &str| {
            text.lines().any(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                w.len() > 3 && w[0] == "be_web" && w[1] == server && w[2] == state
            })
        };
        if code == 0 && text.contains("MASTER") && up("web1", "UP") && up("web2", "DOWN") {
            break text;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "no settled status within 15 s:\n{text}\n{}",
            log()
        );
        sleep_ms(100);
    };
    assert!(
        table.contains(&format!(
            "BACKENDS ({})",
            status_dir.join("haproxy.sock").display()
        )),
        "{table}"
    );
    // One scrape target: HAProxy's families, then keepalived-exporter's.
    let page = ns
        .spawn(|| {
            let mut s = std::net::TcpStream::connect("127.0.0.1:8405").unwrap();
            s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
            let mut text = String::new();
            s.read_to_string(&mut text).unwrap();
            text
        })
        .join()
        .unwrap();
    let (head, body) = page.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    // Chunked even to an HTTP/1.0 client, as 2.6.12's exporter answers.
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    let samples = python_samples(&dechunk(body));
    assert!(
        samples
            .lines()
            .any(|l| l.starts_with("haproxy_server_status") && l.contains("\"web1\"")),
        "{samples}"
    );
    assert!(
        samples
            .lines()
            .any(|l| l.starts_with("keepalived_vrrp_state ")
                && l.contains("\"VI_1\"")
                && l.ends_with(" 2.0")),
        "the VRRP instance MASTER (2) on the same page:\n{samples}"
    );
}
