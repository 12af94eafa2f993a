//! Server state log lines against the real haproxy 2.6: haproxy runs in a network
//! namespace this test creates, health-checking servers that the test starts and stops;
//! its log lines (`log stdout format raw`) are recorded, and the same check results fed
//! to our `HealthCheck` machines and `Balancer` must produce the same lines in the same
//! order for each proxy (only `check duration` may differ).
//!
//! Needs root (network namespaces) and haproxy; skipped with a message otherwise.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sched::CloneFlags;
mod common;
use common::Ns;

use proxy_engine::balance::{Balancer, ServerId};
use proxy_engine::health::{
    backend_down_line, health_check_line, server_down_line, server_up_line, CheckParams,
    CheckResult, CheckStatus, HealthCheck, Transition,
};

const HAPROXY: &str = "/usr/sbin/haproxy";

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A TCP server in the namespace that accepts and closes, until the flag is cleared.
fn listener(ns: &Ns, port: u16) -> Arc<AtomicBool> {
    let on = Arc::new(AtomicBool::new(true));
    let flag = on.clone();
    let path = format!("/run/netns/{}", ns.name);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let fd = std::fs::File::open(path).unwrap();
        nix::sched::setns(&fd, CloneFlags::CLONE_NEWNET).unwrap();
        let l = TcpListener::bind(("127.0.0.1", port)).unwrap();
        l.set_nonblocking(true).unwrap();
        tx.send(()).unwrap();
        while flag.load(Ordering::SeqCst) {
            match l.accept() {
                Ok((c, _)) => drop(c),
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    rx.recv().unwrap();
    on
}

const CFG: &str = "global
  nbthread 1
  log stdout format raw local0
defaults
  mode tcp
  log global
  timeout connect 1s
  timeout client 5s
  timeout server 5s
listen lb
  bind 127.0.0.1:7001
  server s1 127.0.0.1:9101 check inter 300 fastinter 100 downinter 200
  server s2 127.0.0.1:9102 check inter 300 fastinter 100 downinter 200
listen lb2
  bind 127.0.0.1:7003
  server x 127.0.0.1:9103 check inter 300
listen lbh
  bind 127.0.0.1:7002
  option log-health-checks
  server s1 127.0.0.1:9101 check inter 300
  server s2 127.0.0.1:9102 check inter 300 backup
";

fn normalize(line: &str) -> String {
    // "check duration: 12ms" -> "check duration: Nms"
    let mut out = String::new();
    let mut rest = line;
    while let Some(i) = rest.find("check duration: ") {
        let (head, tail) = rest.split_at(i + "check duration: ".len());
        out.push_str(head);
        let digits = tail.chars().take_while(|c| c.is_ascii_digit()).count();
        out.push('N');
        rest = &tail[digits..];
    }
    out.push_str(rest);
    out
}

/// One backend on our side: its balancer and a check machine per server.
struct Ours {
    balancer: Balancer,
    checks: Vec<HealthCheck>,
    log_checks: bool,
    lines: Vec<String>,
}

impl Ours {
    fn feed(&mut self, server: usize, ok: bool) {
        let result = if ok {
            CheckResult {
                status: CheckStatus::L4Ok,
                code: None,
                info: String::new(),
                duration: Duration::ZERO,
            }
        } else {
            CheckResult {
                status: CheckStatus::L4Con,
                code: None,
                info: "Connection refused".into(),
                duration: Duration::ZERO,
            }
        };
        let now = Duration::from_secs(100);
        let (backend, name) = (
            self.balancer.backend().to_string(),
            self.balancer.server_name(ServerId(server)).to_string(),
        );
        let backup = self.balancer.is_backup(ServerId(server));
        let c = &mut self.checks[server];
        c.start(now);
        let out = c.complete(&result, now, 0);
        if self.log_checks && out.loggable {
            self.lines.push(health_check_line(
                &backend, &name, backup, c, &result, false,
            ));
        }
        let cause = (!self.log_checks).then_some(&result);
        match out.transition {
            Some(Transition::Down) => {
                if let Some(ch) = self.balancer.set_stopped(ServerId(server), now) {
                    self.lines
                        .push(server_down_line(&backend, &name, cause, &ch));
                    if ch.backend_down {
                        self.lines.push(backend_down_line("proxy", &backend));
                    }
                }
            }
            Some(Transition::Up) => {
                if let Some(ch) = self.balancer.set_running(ServerId(server), now) {
                    self.lines.push(server_up_line(&backend, &name, cause, &ch));
                }
            }
            None => {}
        }
    }
}

fn ours(cfg: &haproxy_conf::model::HaproxyConfig, name: &str) -> Ours {
    let proxy = cfg.proxy(name).unwrap();
    let checks = proxy
        .servers
        .iter()
        .map(|s| {
            HealthCheck::new(
                CheckParams::new(s, &proxy.settings, &cfg.global),
                Duration::ZERO,
                false,
            )
        })
        .collect();
    Ours {
        balancer: Balancer::new(proxy, 1).unwrap(),
        checks,
        log_checks: proxy.settings.options.flag("log-health-checks") == Some(true),
        lines: Vec::new(),
    }
}

fn load(text: &str) -> haproxy_conf::model::HaproxyConfig {
    let path = std::env::temp_dir().join(format!("hapc-ours-{}.cfg", std::process::id()));
    std::fs::write(&path, text).unwrap();
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
    loaded.config
}

#[test]
fn server_state_lines_match_the_real_haproxy() {
    if !nix::unistd::geteuid().is_root() || !Path::new(HAPROXY).exists() {
        println!("SKIPPED health_vs_haproxy: needs root and {HAPROXY}");
        return;
    }
    let ns = Ns::new();
    let s1 = listener(&ns, 9101);
    let cfg_path = std::env::temp_dir().join(format!("hapc-{}.cfg", std::process::id()));
    std::fs::write(&cfg_path, CFG).unwrap();
    let mut child = Command::new("ip")
        .args(["netns", "exec", &ns.name, HAPROXY, "-db", "-f"])
        .arg(&cfg_path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _hap = Killed(child);
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            sink.lock().unwrap().push(line);
        }
    });
    // Phase 1: s1 up, s2 and x refused.
    std::thread::sleep(Duration::from_millis(1500));
    // Phase 2: s2 comes up.
    let s2 = listener(&ns, 9102);
    std::thread::sleep(Duration::from_millis(1500));
    // Phase 3: s1 goes away.
    s1.store(false, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(2500));
    s2.store(false, Ordering::SeqCst);
    drop(_hap);
    let _ = std::fs::remove_file(&cfg_path);
    let real: Vec<String> = lines.lock().unwrap().iter().map(|l| normalize(l)).collect();

    let cfg = load(CFG);
    let mut lb = ours(&cfg, "lb");
    let mut lb2 = ours(&cfg, "lb2");
    let mut lbh = ours(&cfg, "lbh");
    // Enough checks per phase for every transition; only state changes (and, with
    // log-health-checks, counter moves) produce lines.
    for _ in 0..4 {
        for o in [&mut lb, &mut lbh] {
            o.feed(0, true);
            o.feed(1, false);
        }
        lb2.feed(0, false);
    }
    for _ in 0..4 {
        for o in [&mut lb, &mut lbh] {
            o.feed(0, true);
            o.feed(1, true);
        }
    }
    for _ in 0..4 {
        for o in [&mut lb, &mut lbh] {
            o.feed(0, false);
            o.feed(1, true);
        }
    }
    let mut failures = Vec::new();
    for (o, tag) in [(&lb, "lb/"), (&lb2, "lb2"), (&lbh, "lbh/")] {
        let theirs: Vec<&String> = real
            .iter()
            .filter(|l| l.contains(tag) || (tag == "lb2" && l.contains("proxy lb2 ")))
            .collect();
        let mine: Vec<String> = o.lines.iter().map(|l| normalize(l)).collect();
        println!("{tag}\n  haproxy: {theirs:#?}");
        if theirs
            .iter()
            .map(|s| s.as_str())
            .ne(mine.iter().map(|s| s.as_str()))
        {
            failures.push(format!("{tag}:\n haproxy: {theirs:#?}\n ours: {mine:#?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
