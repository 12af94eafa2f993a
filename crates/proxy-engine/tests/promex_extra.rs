//! `Engine::set_extra_metrics`: the hook's text follows HAProxy's families on a whole
//! Prometheus exporter page, and is left out of a scoped one (the page itself is
//! compared with haproxy 2.6.12 in `crates/ha-compat/tests/prometheus_reference.rs`).
//! Runs the engine in a namespace of its own (`hapio-<pid>-<n>`); needs root, skipped
//! otherwise.
#![allow(clippy::unwrap_used)]
#![cfg(target_os = "linux")]

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use common::Ns;
use haproxy_conf::host::AnyAccounts;
use haproxy_conf::{LoadOptions, NoResolver};
use proxy_engine::engine::{Engine, EngineEvents, Stop};
use proxy_engine::traffic_log::LogClock;

const CFG: &str = "\
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend prometheus
    bind 127.0.0.1:8405
    http-request use-service prometheus-exporter if { path /metrics }
    default_backend none
backend none
";

struct Quiet;

impl EngineEvents for Quiet {
    fn warning(&self, _message: &str) {}
    fn alert(&self, _message: &str) {}
}

fn scrape(path: &str) -> String {
    let mut c = TcpStream::connect(("127.0.0.1", 8405)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        c,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn extra_metrics_follow_a_whole_page_only() {
    if !common::can_run("promex_extra") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("hapio-promex-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, CFG).unwrap();
    let env: BTreeMap<String, String> = BTreeMap::new();
    let options = LoadOptions {
        env: &env,
        features: haproxy_conf::version::FEATURES,
        resolver: &NoResolver,
        accounts: &AnyAccounts,
        host_files: false,
    };
    let config = haproxy_conf::load(&[path], &options).config;
    let _ = std::fs::remove_dir_all(&dir);
    let ns = Ns::new();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let engine_thread = ns.spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let engine = Engine::build(&config, LogClock::default()).unwrap();
            engine.set_extra_metrics(Arc::new(|| {
                "# HELP keepalived_vrrp_state State of vrrp\n# TYPE keepalived_vrrp_state gauge\nkeepalived_vrrp_state{iname=\"VI_1\"} 2\n".to_string()
            }));
            ready_tx.send(()).unwrap();
            engine
                .run(Arc::new(Quiet), async move {
                    let _ = stopped.await;
                    Stop::Hard
                })
                .await;
        });
    });
    ready_rx.recv().unwrap();
    let (whole, scoped) = ns.enter(|| {
        for _ in 0..100 {
            if TcpStream::connect(("127.0.0.1", 8405)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        (scrape("/metrics"), scrape("/metrics?scope=global"))
    });
    drop(stop);
    engine_thread.join().unwrap();
    let extra = "keepalived_vrrp_state{iname=\"VI_1\"} 2\n";
    assert!(whole.contains(extra), "{whole}");
    // After HAProxy's last family, in the page's last chunk.
    let at = whole.find(extra).unwrap();
    assert!(whole.find("haproxy_frontend_status").unwrap() < at);
    assert!(whole.ends_with(&format!("{extra}\r\n0\r\n\r\n")), "{whole}");
    assert!(scoped.contains("haproxy_process_nbproc 1\n"), "{scoped}");
    assert!(!scoped.contains("keepalived_"), "{scoped}");
}
