//! Runs every `mode tcp` frontend of a haproxy.cfg with the I/O side of the engine and a
//! plain round-robin picker (the real balancers live in `balance/`): for benchmarks and
//! manual comparisons with haproxy until `haproxy -f FILE -db` is wired.
//!
//! `cargo run --release -p proxy-engine --example tcp_frontends -- haproxy.cfg`

use std::collections::BTreeMap;
use std::net::SocketAddr;

use haproxy_conf::host::SystemAccounts;
use haproxy_conf::model::{HaproxyConfig, ServerHost, ServerPort};
use haproxy_conf::{LoadOptions, SystemResolver};
use proxy_engine::listener::ConnLimit;
use proxy_engine::tcp_frontend::{run_tcp_frontend, SharedPicker, TcpFrontend};
use proxy_engine::tcp_session::{BackendView, SendProxy, ServerPicker, ServerTarget};
use proxy_engine::traffic_log::LogClock;

struct RoundRobin {
    servers: Vec<ServerTarget>,
    next: usize,
}

impl ServerPicker for RoundRobin {
    fn pick(&mut self, _client: SocketAddr, _previous: Option<&str>) -> Option<ServerTarget> {
        if self.servers.is_empty() {
            return None;
        }
        let server = self.servers[self.next % self.servers.len()].clone();
        self.next = self.next.wrapping_add(1);
        Some(server)
    }

    fn view(&self, _server: &str) -> BackendView {
        BackendView {
            active_servers: u32::try_from(self.servers.len()).unwrap_or(u32::MAX),
            hash_based: false,
            server_running: true,
        }
    }
}

fn picker(config: &HaproxyConfig, backend: &str) -> Result<SharedPicker, String> {
    let proxy = config
        .proxy(backend)
        .ok_or_else(|| format!("no backend {backend}"))?;
    let mut servers = Vec::new();
    for s in &proxy.servers {
        let (ServerHost::Ip(ip), ServerPort::Fixed(port)) = (&s.address.host, s.address.port)
        else {
            return Err(format!("server {}: only IP:PORT addresses here", s.name));
        };
        let send_proxy = if s.options.send_proxy_v2 == Some(true) {
            Some(SendProxy::V2)
        } else if s.options.send_proxy == Some(true) {
            Some(SendProxy::V1)
        } else {
            None
        };
        servers.push(ServerTarget {
            name: s.name.clone(),
            address: SocketAddr::new(*ip, port),
            send_proxy,
        });
    }
    Ok(SharedPicker::new(Box::new(RoundRobin { servers, next: 0 })))
}

fn main() -> Result<(), String> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: tcp_frontends haproxy.cfg")?;
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let options = LoadOptions {
        env: &env,
        features: haproxy_conf::version::FEATURES,
        resolver: &SystemResolver,
        accounts: &SystemAccounts,
        host_files: true,
    };
    let loaded = haproxy_conf::load(&[path.into()], &options);
    if !matches!(loaded.outcome, haproxy_conf::Outcome::Valid { .. }) {
        return Err(format!("configuration refused: {:?}", loaded.outcome));
    }
    let config = loaded.config;
    let threads = config.global.nbthread.map_or(2, |n| n as usize);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let process = ConnLimit::new(config.global.maxconn);
        let names: Vec<String> = config.frontends().map(|p| p.name.clone()).collect();
        for name in names {
            let frontend =
                TcpFrontend::from_config(&config, &name, process.clone(), LogClock::default())
                    .map_err(|e| e.to_string())?;
            let picker = picker(&config, &frontend.backend.clone())?;
            tokio::spawn(run_tcp_frontend(
                frontend,
                picker,
                std::future::pending::<()>(),
            ));
        }
        let _ = tokio::signal::ctrl_c().await;
        Ok(())
    })
}
