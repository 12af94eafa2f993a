//! The whole proxy running from a haproxy.cfg: every `mode tcp` frontend's listeners
//! and sessions, one [`Balancer`] per backend (shared by its sessions, its health
//! checks and its queue timer), the server state lines on stderr and in the backend's
//! log targets.
//!
//! [`refusals`] says, with `file:line`, what in a configuration this engine cannot run
//! yet (HTTP mode, routing and filtering rules): HAProxy would route or filter those
//! connections, so running without them would be wrong, not merely incomplete.
//!
//! Server state changes as HAProxy 2.6 reports them (src/server.c
//! `srv_update_status()`): `[WARNING]` on stderr and `notice` (up) / `alert` (down) to the
//! backend's log targets; a backend left without servers adds `[ALERT]` on stderr and an
//! `emerg` log line (`backend be has no server available!`).

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use haproxy_conf::model::{Balance, HaproxyConfig, Mode, Proxy, Server, ServerHost, ServerPort};
use tokio::sync::{mpsc, oneshot, Notify};

use crate::admin::{AdminAction, AdminServer, CheckCommand};
use crate::balance::{
    Balancer, Dequeued, Pick, QueuePosition, QueueTicket, RequestInfo, ServerId, ServerState,
};
use crate::counters::{Traffic, TrafficCounters};
use crate::error::ProxyError;
use crate::health::{backend_down_alert, backend_down_line, first_check_delays, CheckParams};
use crate::http::acl::{AclCompiler, Phase};
use crate::http::cookie::CookieCapture;
use crate::http::errors::ErrorPages;
use crate::http::pool::{retries_make_reuse_safe, PoolLimits, ReuseMode};
use crate::http::rules::CompiledRules;
use crate::http::session::{
    BackendPools, ExtraMetrics, HeaderCaptures, PoolServer, PromexSource, ProxyRules, StatsPage,
    StatsSource,
};
use crate::http::stats::{
    BackendRow, BackendSide, FrontendRow, ProcessInfo, ProxyMode, ProxyStats, ServerAdmin,
    ServerCheck as StatsCheck, ServerRow, ServerRunState, StatsSnapshot,
};
use crate::listener::ConnLimit;
use crate::probe::schedule::{spawn_check, CheckCommands, CheckReport, ServerCheck};
use crate::probe::ProbeSpec;
use crate::state_dump::{dump_lines, ProxyDump, ServerDump, Target as DumpTarget};
use crate::stopping::Stopping;
use crate::tcp_frontend::{http_routing, log_sender, run_tcp_frontend, SharedPicker, TcpFrontend};
use crate::tcp_session::{
    BackendView, KillSwitch, Picked, QueueExit, QueueWait, RequestHint, SendProxy, ServerPicker,
    ServerTarget,
};
use crate::traffic_log::{LogClock, LogSender};

/// `LOG_EMERG`, `LOG_ALERT`, `LOG_NOTICE`: the levels of the server state lines.
const LEVEL_EMERG: u8 = 0;
const LEVEL_ALERT: u8 = 1;
const LEVEL_WARNING: u8 = 4;
const LEVEL_NOTICE: u8 = 5;

/// Where the engine's own messages go (the `haproxy` command prints them on stderr as
/// `[WARNING]  (PID) : ...` / `[ALERT]    (PID) : ...`).
pub trait EngineEvents: Send + Sync {
    fn warning(&self, message: &str);
    fn alert(&self, message: &str);
}

/// What this engine cannot run in `config` yet, one `file:line: ...` message each.
pub fn refusals(config: &HaproxyConfig) -> Vec<String> {
    let mut out = Vec::new();
    let at = |p: &Proxy| format!("{}:{}", p.at.file, p.at.line);
    for proxy in config.proxies.iter().filter(|p| !p.disabled) {
        let kind = proxy.kind.keyword();
        if proxy.settings.mode == Mode::Log {
            out.push(format!(
                "{}: {kind} '{}' is in 'mode {}': ha-compat's proxy engine runs 'mode tcp' \
                 and 'mode http' only",
                at(proxy),
                proxy.name,
                match proxy.settings.mode {
                    Mode::Http => "http",
                    Mode::Log => "log",
                    Mode::Tcp => "tcp",
                }
            ));
            continue;
        }
        if proxy.settings.mode == Mode::Http {
            out.extend(http_refusals(proxy));
            // ACLs, `use_backend` and the `http-request`/`http-response`/`redirect`
            // rules run; what the rules module cannot run is refused when compiling.
            if let Err(e) = CompiledRules::compile(config, proxy) {
                out.push(e.to_string());
            }
        } else {
            if let Some(rule) = proxy.use_backends.first() {
                out.push(format!(
                    "{}:{}: 'use_backend' rules are not supported in 'mode tcp' by ha-compat's \
                     proxy engine yet (they route connections; refusing rather than ignoring \
                     them)",
                    rule.at.file, rule.at.line
                ));
            }
            if let Some(acl) = proxy.acls.first() {
                out.push(format!(
                    "{}:{}: 'acl' is not supported in 'mode tcp' by ha-compat's proxy engine yet",
                    acl.at.file, acl.at.line
                ));
            }
        }
        if let Some(rule) = proxy.settings.tcp_request.first() {
            out.push(format!(
                "{}:{}: 'tcp-request' rules are not supported by ha-compat's proxy engine yet \
                 (they filter connections; refusing rather than ignoring them)",
                rule.at.file, rule.at.line
            ));
        }
        // Server choice and addressing the engine does not run, in any mode.
        for directive in &proxy.settings.unmodelled {
            let keyword = directive.words.first().map(String::as_str).unwrap_or("");
            if matches!(keyword, "use-server" | "dispatch" | "transparent") {
                out.push(format!(
                    "{}:{}: '{keyword}' is not supported by ha-compat's proxy engine yet \
                     (it chooses servers; refusing rather than ignoring it)",
                    directive.at.file, directive.at.line
                ));
            }
        }
        if proxy.kind.has_frontend() && proxy.settings.log_format.is_some() {
            out.push(format!(
                "{}: 'log-format' is not supported by ha-compat's proxy engine yet",
                at(proxy)
            ));
        }
        for server in &proxy.servers {
            if let Err(e) = server_address(server, proxy) {
                out.push(e);
            }
        }
    }
    out
}

/// What `mode http` cannot run yet in `proxy`: each would change routing, access or
/// the answers, so it is refused rather than ignored.
fn http_refusals(proxy: &Proxy) -> Vec<String> {
    let mut out = Vec::new();
    let at = format!("{}:{}", proxy.at.file, proxy.at.line);
    let settings = &proxy.settings;
    let not_yet = |what: &str, at: &str| {
        format!("{at}: {what} is not supported by ha-compat's proxy engine yet (refusing rather than ignoring it)")
    };
    if proxy.kind.has_backend() {
        if let Err(e) = crate::http::cookie::CookiePersistence::compile(proxy) {
            out.push(e.to_string());
        }
    }
    if proxy.kind.has_backend() {
        if let Some(Balance::UrlParam {
            check_post: Some(_),
            ..
        }) = &settings.balance
        {
            out.push(not_yet(
                "'balance url_param ... check_post' (hashing the request body)",
                &at,
            ));
        }
    }
    for directive in &settings.unmodelled {
        let keyword = directive.words.first().map(String::as_str).unwrap_or("");
        if matches!(
            keyword,
            "compression"
                | "filter"
                | "cache-store"
                | "http-error"
                | "unique-id-format"
                | "unique-id-header"
                | "declare"
                | "stick"
                | "stick-table"
                | "force-persist"
                | "ignore-persist"
                | "persist"
                | "monitor"
                | "http-send-name-header"
        ) {
            out.push(not_yet(
                &format!("'{keyword}'"),
                &format!("{}:{}", directive.at.file, directive.at.line),
            ));
        }
    }
    out
}

/// A proxy's `capture request header` / `capture response header` lines and its last
/// `capture cookie NAME len N` (the parser checked their shape; lengths are read as
/// `atol()` does; a cookie capture longer than `tune.http.cookielen` - 1, 63 by
/// default, is cut to it as `check_config_validity()` does).
fn header_captures(proxy: &Proxy, config: &HaproxyConfig) -> HeaderCaptures {
    let mut captures = HeaderCaptures::default();
    for directive in &proxy.settings.unmodelled {
        let w = &directive.words;
        if w.len() >= 5 && w[0] == "capture" && w[1] == "cookie" {
            let len = haproxy_conf::units::atol(&w[4]).max(0);
            let cookie_len = config
                .global
                .tune
                .get("tune.http.cookielen")
                .map_or(64, |v| haproxy_conf::units::atol(v).saturating_add(1));
            let len = if len >= cookie_len {
                cookie_len - 1
            } else {
                len
            };
            captures.cookie = Some(CookieCapture {
                prefix: w[2].clone(),
                len: usize::try_from(len.max(0)).unwrap_or(0),
            });
            continue;
        }
        if w.len() < 6 || w[0] != "capture" || w[2] != "header" {
            continue;
        }
        let digits: String = w[5].chars().take_while(char::is_ascii_digit).collect();
        let len = digits.parse::<usize>().unwrap_or(0);
        match w[1].as_str() {
            "request" => captures.request.push((w[3].clone(), len)),
            "response" => captures.response.push((w[3].clone(), len)),
            _ => {}
        }
    }
    captures
}

/// The address a server's connections go to: literal IPs, or host names resolved once at
/// startup (libc's resolver, as HAProxy's `init-addr libc`).
fn server_address(server: &Server, proxy: &Proxy) -> Result<SocketAddr, String> {
    let at = format!("{}:{}", server.at.file, server.at.line);
    let port = match server.address.port {
        ServerPort::Fixed(p) => p,
        _ => {
            return Err(format!(
                "{at}: server '{}/{}': a port taken from the client's (none or +/-N) is not \
                 supported by ha-compat's proxy engine yet",
                proxy.name, server.name
            ))
        }
    };
    let ip: IpAddr = match &server.address.host {
        ServerHost::Ip(ip) => *ip,
        ServerHost::Name(name) => (name.as_str(), port)
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .map(|a| a.ip())
            .ok_or_else(|| {
                format!(
                    "{at}: could not resolve address '{name}' of server '{}/{}'",
                    proxy.name, server.name
                )
            })?,
        ServerHost::Unix(_) | ServerHost::Abstract(_) => {
            return Err(format!(
                "{at}: server '{}/{}': UNIX socket servers are not supported by ha-compat's \
                 proxy engine yet",
                proxy.name, server.name
            ))
        }
    };
    Ok(SocketAddr::new(ip, port))
}

/// A queued connection: where its way out goes, what it hashes on if it is picked
/// again (redispatch), and where it stood in the queues it already left that way.
struct Waiter {
    exit: oneshot::Sender<QueueExit>,
    client: SocketAddr,
    position: QueuePosition,
}

impl Waiter {
    /// Tells the session how it left; `false` when it is gone.
    fn send(self, target: Option<ServerTarget>, position: QueuePosition) -> bool {
        let position = self.position.then(position);
        self.exit.send(QueueExit { target, position }).is_ok()
    }
}

/// One backend's balancer and what goes with it.
struct BackendState {
    balancer: Balancer,
    targets: Vec<ServerTarget>,
    waiters: HashMap<QueueTicket, Waiter>,
    epoch: Instant,
    /// Per server: its check was disabled from the stats page (`CHK_ST_ENABLED`
    /// cleared); the page then shows it as unchecked.
    check_disabled: Vec<bool>,
    /// Per server: what its check last reported, for the stats page.
    check_views: Vec<CheckView>,
    /// Per server: its "Kill Sessions" signal (sessions hold the other end).
    kills: Vec<tokio::sync::watch::Sender<u64>>,
}

/// A server's check as the stats page shows it.
#[derive(Debug, Clone, Default)]
struct CheckView {
    /// `check->health`.
    health: u32,
    last: Option<crate::health::CheckResult>,
    failed_checks: u64,
    down_transitions: u64,
}

impl BackendState {
    fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    /// Hands the slots of `dequeued` to their waiters; a slot whose waiter is gone goes
    /// back to the balancer (which may hand it on).
    fn deliver(&mut self, mut dequeued: Vec<Dequeued>) {
        while let Some(d) = dequeued.pop() {
            let target = self.targets[d.server.0].clone();
            let delivered = match self.waiters.remove(&d.ticket) {
                Some(w) => w.send(Some(target), d.position),
                None => false,
            };
            if !delivered {
                let now = self.now();
                dequeued.extend(self.balancer.release(d.server, now));
            }
        }
    }

    /// Queued connections whose server went down with `option redispatch`: picked again.
    fn repick(&mut self, tickets: Vec<(QueueTicket, QueuePosition)>) {
        for (ticket, position) in tickets {
            let Some(mut waiter) = self.waiters.remove(&ticket) else {
                continue;
            };
            waiter.position = waiter.position.then(position);
            let now = self.now();
            let req = RequestInfo {
                source: Some(waiter.client.ip()),
                ..RequestInfo::default()
            };
            match self.balancer.pick(&req, None, now) {
                Pick::Server(id) => {
                    let target = self.targets[id.0].clone();
                    if !waiter.send(Some(target), QueuePosition::default()) {
                        let more = self.balancer.release(id, now);
                        self.deliver(more);
                    }
                }
                Pick::Queued(new_ticket) => {
                    self.waiters.insert(new_ticket, waiter);
                }
                Pick::QueueFull(_) | Pick::NoServer => {
                    let _ = waiter.send(None, QueuePosition::default());
                }
            }
        }
    }
}

/// A backend as its sessions, checks and queue timer share it.
#[derive(Clone)]
struct BackendHandle {
    state: Arc<Mutex<BackendState>>,
    /// Wakes the queue timer when a connection is queued (a nearer deadline).
    queue_changed: Arc<Notify>,
}

impl BackendHandle {
    fn lock(&self) -> MutexGuard<'_, BackendState> {
        // Only plain data behind the lock; a panicked holder leaves it usable.
        match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

impl ServerPicker for BackendHandle {
    fn pick(&mut self, client: SocketAddr, previous: Option<&str>) -> Picked {
        self.pick_for_request(client, &RequestHint::default(), previous)
    }

    fn backend_name(&self) -> Option<String> {
        Some(self.lock().balancer.backend().to_string())
    }

    fn pick_for_request(
        &mut self,
        client: SocketAddr,
        request: &RequestHint,
        previous: Option<&str>,
    ) -> Picked {
        let mut state = self.lock();
        let now = state.now();
        let avoid = previous.and_then(|p| state.balancer.find(p));
        let req = RequestInfo {
            source: Some(client.ip()),
            uri: request.uri.as_deref(),
            header: request.header.as_deref(),
            post_body: None,
        };
        // A redispatch leaves the cookie's server (HAProxy clears `SF_DIRECT`).
        let direct = match (&request.server, previous) {
            (Some(name), None) => state.balancer.find(name),
            _ => None,
        };
        let pick = match direct {
            Some(id) => state.balancer.pick_direct(id, now),
            None => state.balancer.pick(&req, avoid, now),
        };
        match pick {
            Pick::Server(id) => Picked::Server(state.targets[id.0].clone()),
            Pick::Queued(ticket) => {
                let (exit, receiver) = oneshot::channel();
                let waiter = Waiter {
                    exit,
                    client,
                    position: QueuePosition::default(),
                };
                state.waiters.insert(ticket, waiter);
                self.queue_changed.notify_one();
                Picked::Queued(QueueWait {
                    ticket: ticket.0,
                    server: state
                        .balancer
                        .queued_on(ticket)
                        .map(|id| state.targets[id.0].name.clone()),
                    exit: receiver,
                })
            }
            Pick::QueueFull(id) => Picked::QueueFull(state.targets[id.0].name.clone()),
            Pick::NoServer => Picked::NoServer,
        }
    }

    fn cancel(&mut self, ticket: u64) -> QueuePosition {
        let mut state = self.lock();
        let position = state.balancer.cancel(QueueTicket(ticket));
        match state.waiters.remove(&QueueTicket(ticket)) {
            Some(w) => w.position.then(position),
            None => position,
        }
    }

    fn view(&self, server: &str) -> BackendView {
        let state = self.lock();
        BackendView {
            active_servers: state.balancer.usable_counts().0,
            hash_based: state.balancer.hash_based(),
            server_running: state
                .balancer
                .find(server)
                .is_some_and(|id| state.balancer.is_usable(id)),
        }
    }

    fn connection_opened(&mut self, server: &str) {
        let mut state = self.lock();
        if let Some(id) = state.balancer.find(server) {
            state.balancer.connection_opened(id);
        }
    }

    fn connection_failed(&mut self, server: &str) {
        let mut state = self.lock();
        if let Some(id) = state.balancer.find(server) {
            state.balancer.connection_closed(id);
        }
    }

    fn released(&mut self, server: &str, was_connected: bool) {
        let mut state = self.lock();
        let Some(id) = state.balancer.find(server) else {
            return;
        };
        if was_connected {
            state.balancer.connection_closed(id);
        }
        let now = state.now();
        let dequeued = state.balancer.release(id, now);
        state.deliver(dequeued);
    }
}

/// One backend ready to run.
struct Backend {
    name: String,
    /// `proxy_type_str()`: "backend", or "proxy" for a `listen`.
    type_str: &'static str,
    handle: BackendHandle,
    checks: Vec<ServerCheck>,
    /// Per server (configuration order), the admin commands to its check, if checked.
    check_commands: Vec<Option<mpsc::UnboundedSender<CheckCommand>>>,
    /// Per server: `rise` and `rise + fall - 1`.
    check_bounds: Vec<(u32, u32)>,
    log: Option<Arc<Mutex<LogSender>>>,
}

/// How [`Engine::run`] ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// SIGUSR1: listeners close, every proxy is reported as stopped, and `run` returns
    /// once the sessions under way have ended.
    Soft,
    /// `run` returns at once, reporting nothing (HAProxy is killed by SIGTERM).
    Hard,
}

/// A configuration turned into sockets and balancers, ready to [`Engine::run`].
pub struct Engine {
    frontends: Vec<(TcpFrontend, usize)>,
    backends: Vec<Backend>,
    /// Each backend's balancer as sessions use it (same order as `backends`).
    pickers: Vec<SharedPicker>,
    epoch: tokio::time::Instant,
    /// Every connection of the process (the soft stop waits for it to drain).
    process: ConnLimit,
    /// What the soft stop and SIGHUP report, in configuration order (shared with the
    /// [`StateDumper`]s).
    stop_reports: Arc<Vec<StopReport>>,
    /// Where the stats page's admin actions report (set by [`Engine::run`]).
    events: Arc<std::sync::OnceLock<Arc<dyn EngineEvents>>>,
    /// Set when a soft stop begins; every `mode http` route reads it.
    stopping: Stopping,
    /// global `hard-stop-after`: how long a soft stop may wait for sessions to end.
    hard_stop_after: Option<Duration>,
    /// Text the Prometheus exporter appends to its page ([`Engine::set_extra_metrics`]).
    extra_metrics: Arc<std::sync::OnceLock<ExtraMetrics>>,
    /// The `stats socket`s (runtime API), bound; served by [`Engine::run`].
    cli: crate::cli::server::CliSockets,
    cli_target: Arc<EngineStats>,
}

/// A proxy's `Proxy NAME stopped (cumulated conns: FE: n, BE: m).` at a soft stop, and
/// what its SIGHUP lines read ([`StateDumper`]).
struct StopReport {
    name: String,
    /// The frontend's connection counter (frontends and listens).
    frontend: Option<ConnLimit>,
    /// The balancer and its session count (backends and listens).
    backend: Option<(BackendHandle, SharedPicker)>,
    /// HAProxy's internal `<HTTPCLIENT>` proxy (its two idle servers, never used here).
    internal: bool,
    /// The runtime API's `GLOBAL` proxy: its connections.
    cli: Option<Arc<crate::cli::server::CliCounters>>,
    /// The proxy's stats counters: `BE` is its backend's `stot` (`be_counters.cum_conn`,
    /// one per stream that entered it: per request in `mode http`).
    traffic: Option<Arc<crate::counters::ProxyTraffic>>,
    log: Option<Arc<Mutex<LogSender>>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("frontends", &self.frontends.len())
            .field("backends", &self.backends.len())
            .finish()
    }
}

impl Engine {
    /// Opens every listener (inside a tokio runtime) and builds the balancers and check
    /// plans. Fails on the first of [`refusals`] or an unusable socket.
    pub fn build(config: &HaproxyConfig, clock: LogClock) -> Result<Engine, ProxyError> {
        if let Some(first) = refusals(config).into_iter().next() {
            return Err(ProxyError::Plan(first));
        }
        let epoch = tokio::time::Instant::now();
        let process = ConnLimit::new(config.global.maxconn);
        let stopping = Stopping::default();
        let mut backends: Vec<Backend> = Vec::new();
        let mut backend_index: HashMap<String, usize> = HashMap::new();
        let mut frontends = Vec::new();
        for proxy in config.frontends().filter(|p| !p.disabled) {
            let frontend = TcpFrontend::from_config(config, &proxy.name, process.clone(), clock)?;
            let index = match backend_index.get(&frontend.backend) {
                Some(i) => *i,
                None => {
                    // A frontend without `default_backend` is its own backend, without
                    // servers (HAProxy's `defbe.be = px`): 503 `<NOSRV>`, or a close.
                    let backend = config
                        .proxy(&frontend.backend)
                        .filter(|b| b.kind.has_backend() || b.name == proxy.name)
                        .ok_or_else(|| {
                            ProxyError::Plan(format!("no backend '{}'", frontend.backend))
                        })?;
                    backends.push(build_backend(config, backend, epoch.into_std(), clock)?);
                    backend_index.insert(frontend.backend.clone(), backends.len() - 1);
                    backends.len() - 1
                }
            };
            frontends.push((frontend, index));
        }
        // Backends no frontend uses still run their checks, as in HAProxy.
        for proxy in config.backends().filter(|p| !p.disabled) {
            if !backend_index.contains_key(&proxy.name) {
                backends.push(build_backend(config, proxy, epoch.into_std(), clock)?);
                backend_index.insert(proxy.name.clone(), backends.len() - 1);
            }
        }
        // start_checks(): first checks spread over every checked server of the process.
        let params: Vec<CheckParams> = backends
            .iter()
            .flat_map(|b| b.checks.iter().map(|c| c.params.clone()))
            .collect();
        let mut delays = first_check_delays(&params).into_iter();
        for (index, backend) in backends.iter_mut().enumerate() {
            for check in &mut backend.checks {
                check.key.0 = index;
                check.first = delays.next().unwrap_or(Duration::ZERO);
            }
        }
        let traffic = TrafficCounters::new(config);
        for (frontend, _) in &mut frontends {
            frontend.counters = traffic.clone();
        }
        let mut stop_reports = Vec::new();
        for proxy in config.proxies.iter().filter(|p| !p.disabled) {
            let frontend = frontends
                .iter()
                .find(|(f, _)| f.name == proxy.name)
                .map(|(f, _)| f.frontend_limit.clone());
            stop_reports.push(StopReport {
                name: proxy.name.clone(),
                frontend,
                backend: None,
                internal: false,
                cli: None,
                traffic: traffic.shared(&proxy.name),
                // The sender this proxy already has (same targets), else a new one.
                log: match backends.iter().find(|b| b.name == proxy.name) {
                    Some(b) => b.log.clone(),
                    None => match frontends.iter().find(|(f, _)| f.name == proxy.name) {
                        Some((f, _)) => f.logging.as_ref().map(|l| l.sender.clone()),
                        None => log_sender(config, &proxy.settings, clock)?,
                    },
                },
            });
        }
        // HAProxy 2.6's internal HTTP client proxy is stopped (and reported) too; it logs
        // to the global targets.
        let internal = haproxy_conf::model::ProxySettings {
            logs: haproxy_conf::model::ProxyLogs {
                global: true,
                targets: Vec::new(),
            },
            ..Default::default()
        };
        stop_reports.push(StopReport {
            name: "<HTTPCLIENT>".into(),
            frontend: None,
            backend: None,
            internal: true,
            cli: None,
            traffic: None,
            log: log_sender(config, &internal, clock)?,
        });
        // Each `mode http` backend's idle server connections, shared by every frontend
        // sending to it.
        let mut pools = HashMap::new();
        for proxy in config
            .proxies
            .iter()
            .filter(|p| runs_as_backend(p) && p.settings.mode == Mode::Http && !p.disabled)
        {
            pools.insert(proxy.name.clone(), backend_pools(proxy)?);
        }
        let events = Arc::new(std::sync::OnceLock::new());
        let extra_metrics: Arc<std::sync::OnceLock<ExtraMetrics>> =
            Arc::new(std::sync::OnceLock::new());
        let engine_stats = Arc::new(EngineStats::new(
            config,
            &frontends,
            &backends,
            traffic.clone(),
            &pools,
            events.clone(),
            process.clone(),
            stopping.clone(),
        ));
        let stats: Arc<dyn StatsSource> = engine_stats.clone();
        let mut cli = crate::cli::server::CliSockets::bind(&config.global)?;
        cli.set_sessions(engine_stats.sessions.clone());
        for (frontend, _) in &mut frontends {
            frontend.sessions = Some(engine_stats.sessions.clone());
        }
        // A global `stats socket|timeout|maxconn` creates HAProxy's `GLOBAL` proxy, first
        // in its list (the SIGHUP dump names it first).
        let g = &config.global;
        if !g.stats_sockets.is_empty() || g.stats_timeout.is_some() || g.stats_maxconn.is_some() {
            stop_reports.insert(
                0,
                StopReport {
                    name: "GLOBAL".into(),
                    frontend: None,
                    backend: None,
                    internal: false,
                    cli: Some(cli.counters()),
                    traffic: None,
                    log: None,
                },
            );
        }
        let promex = PromexSource {
            stats: stats.clone(),
            extra: extra_metrics.clone(),
        };
        // One balancer front per backend, shared by every frontend that sends to it (its
        // `%bc` counts them all).
        let pickers: Vec<SharedPicker> = backends
            .iter()
            .map(|b| {
                SharedPicker::new(Box::new(b.handle.clone())).counting(traffic.shared(&b.name))
            })
            .collect();
        for report in &mut stop_reports {
            report.backend = backends
                .iter()
                .zip(&pickers)
                .find(|(b, _)| b.name == report.name)
                .map(|(b, p)| (b.handle.clone(), p.clone()));
        }
        let named_pickers: Vec<(String, SharedPicker)> = backends
            .iter()
            .zip(&pickers)
            .map(|(b, p)| (b.name.clone(), p.clone()))
            .collect();
        // Every `mode http` proxy's rules, compiled once.
        let mut rules = HashMap::new();
        for proxy in config
            .proxies
            .iter()
            .filter(|p| !p.disabled && p.settings.mode == Mode::Http)
        {
            let page = &proxy.settings.stats;
            let stats_page = if page.enabled || page.uri.is_some() || !page.auth.is_empty() {
                let mut acls = AclCompiler::new(&proxy.acls, &config.userlists);
                let admin = page
                    .admin
                    .iter()
                    .map(|a| acls.condition(&a.condition, &a.at, Phase::Request))
                    .collect::<Result<Vec<_>, _>>()?;
                Some(StatsPage {
                    settings: page.clone(),
                    source: stats.clone(),
                    admin,
                })
            } else {
                None
            };
            rules.insert(
                proxy.name.clone(),
                Arc::new(ProxyRules {
                    name: proxy.name.clone(),
                    rules: CompiledRules::compile(config, proxy)?,
                    stats: stats_page,
                    errors: ErrorPages::from_proxy(config, proxy),
                    monitor_uri: proxy
                        .kind
                        .has_frontend()
                        .then(|| proxy.settings.monitor_uri.clone())
                        .flatten(),
                    captures: if proxy.kind.has_frontend() {
                        header_captures(proxy, config)
                    } else {
                        HeaderCaptures::default()
                    },
                    promex: promex.clone(),
                }),
            );
        }
        for (frontend, index) in &mut frontends {
            let Some(proxy) = config
                .proxy(&frontend.name)
                .filter(|p| p.settings.mode == Mode::Http)
            else {
                continue;
            };
            let mut routing = http_routing(
                config,
                proxy,
                &backends[*index].name,
                &named_pickers,
                &rules,
                &pools,
            )?;
            routing.traffic = traffic.shared(&frontend.name);
            for route in &mut routing.routes {
                route.settings.stopping = stopping.clone();
            }
            frontend.http = Some(routing);
        }
        Ok(Engine {
            frontends,
            backends,
            pickers,
            epoch,
            process: process.clone(),
            stop_reports: Arc::new(stop_reports),
            events,
            stopping,
            hard_stop_after: config.global.hard_stop_after,
            extra_metrics,
            cli,
            cli_target: engine_stats,
        })
    }

    /// Adds a runtime API socket the configuration does not name (the supervisor's
    /// status socket), at `admin` level, mode 0600.
    pub fn add_cli_socket(&mut self, path: &std::path::Path) -> Result<(), ProxyError> {
        self.cli.add_private(path)
    }

    /// Warnings about the configuration found while building (the TLS settings of
    /// `bind ... ssl`), for the caller to print as HAProxy prints its `[WARNING]`s.
    pub fn warnings(&self) -> Vec<String> {
        self.frontends
            .iter()
            .flat_map(|(f, _)| f.warnings.iter().cloned())
            .collect()
    }

    /// Every listening socket with its [`crate::listener::ListenKey`], for the process
    /// a reload starts ([`crate::listener::adopt_handed_over`] there).
    pub fn listening_sockets(
        &self,
    ) -> Vec<(crate::listener::ListenKey, std::os::fd::BorrowedFd<'_>)> {
        self.frontends
            .iter()
            .flat_map(|(f, _)| f.handover())
            .collect()
    }

    /// The addresses every frontend listens on, by frontend name.
    pub fn local_addrs(&self) -> Vec<(String, Vec<SocketAddr>)> {
        self.frontends
            .iter()
            .map(|(f, _)| (f.name.clone(), f.local_addrs().unwrap_or_default()))
            .collect()
    }

    /// Appends `hook`'s text to every whole page (no `scope=`, or `scope=*`) of
    /// `use-service prometheus-exporter`, after HAProxy's families (e.g. the VRRP
    /// metrics); the hook runs on each scrape. Set once: later calls are ignored.
    pub fn set_extra_metrics(&self, hook: ExtraMetrics) {
        let _ = self.extra_metrics.set(hook);
    }

    /// What prints the servers' states on SIGHUP, usable while [`Engine::run`] runs.
    pub fn state_dumper(&self) -> StateDumper {
        StateDumper {
            reports: self.stop_reports.clone(),
            master_cli: false,
        }
    }

    /// Runs until `shutdown` resolves, then stops as it says (see [`Stop`]).
    pub async fn run(self, events: Arc<dyn EngineEvents>, shutdown: impl Future<Output = Stop>) {
        let _ = self.events.set(events.clone());
        let (reports_tx, mut reports_rx) = mpsc::unbounded_channel::<CheckReport>();
        let mut tasks = tokio::task::JoinSet::new();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        for backend in &self.backends {
            for check in &backend.checks {
                let handle = spawn_check(check.clone(), self.epoch, reports_tx.clone());
                tasks.spawn(async move {
                    let _ = handle.await;
                });
            }
            let handle = backend.handle.clone();
            let mut stop = stop_rx.clone();
            tasks.spawn(async move {
                tokio::select! {
                    _ = queue_timer(handle) => {}
                    _ = stop.changed() => {}
                }
            });
        }
        drop(reports_tx);
        for (frontend, index) in self.frontends {
            let picker = self.pickers[index].clone();
            let mut stop = stop_rx.clone();
            tasks.spawn(run_tcp_frontend(frontend, picker, async move {
                let _ = stop.changed().await;
            }));
        }
        {
            let target: Arc<dyn crate::cli::CliTarget + Send + Sync> = self.cli_target.clone();
            let mut stop = stop_rx.clone();
            tasks.spawn(self.cli.serve(target, async move {
                let _ = stop.changed().await;
            }));
        }
        let backends = self.backends;
        let state_changes = async {
            while let Some(report) = reports_rx.recv().await {
                if let Some(backend) = backends.get(report.key.0) {
                    apply_report(backend, &report, events.as_ref());
                }
            }
            // No checks (or they all ended): the proxy runs on without them.
            std::future::pending::<()>().await;
        };
        let stop = tokio::select! {
            stop = shutdown => stop,
            _ = state_changes => Stop::Hard,
        };
        let _ = stop_tx.send(true);
        tasks.abort_all();
        if stop == Stop::Hard {
            return;
        }
        // The soft stop: listeners are closed; `mode http` connections stop being kept
        // alive; each proxy is reported, and the process ends once the sessions under
        // way have.
        self.stopping.begin();
        // HAProxy reports the proxies with listeners first, `GLOBAL` (the CLI's) after
        // the last of them, then the backends (2.6.12, measured).
        let mut order: Vec<&StopReport> = self
            .stop_reports
            .iter()
            .filter(|r| r.cli.is_none())
            .collect();
        if let Some(global) = self.stop_reports.iter().find(|r| r.cli.is_some()) {
            let at = order
                .iter()
                .rposition(|r| r.frontend.is_some())
                .map_or(0, |i| i + 1);
            order.insert(at, global);
        }
        for report in order {
            let cli = report
                .cli
                .as_ref()
                .map(|c| c.cumulated.load(std::sync::atomic::Ordering::Relaxed));
            let fe =
                cli.unwrap_or_else(|| report.frontend.as_ref().map_or(0, ConnLimit::cumulated));
            let be: u64 = report.traffic.as_ref().map_or(0, |t| {
                t.backend
                    .sessions
                    .load(std::sync::atomic::Ordering::Relaxed)
            });
            let be = cli.unwrap_or(be);
            let line = format!(
                "Proxy {} stopped (cumulated conns: FE: {fe}, BE: {be}).",
                report.name
            );
            events.warning(&line);
            send_log(report.log.as_ref(), LEVEL_WARNING, &line);
        }
        let drained = async {
            while self.process.current() > 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        let Some(hard_stop_after) = self.hard_stop_after else {
            return drained.await;
        };
        if tokio::time::timeout(hard_stop_after, drained).await.is_ok() {
            return;
        }
        // `hard-stop-after`: HAProxy's `hard_stop()`: the sessions under way are killed
        // (a client waiting for an answer gets the 502 page, logged `KH--`), idle
        // connections released; a second later the process ends whatever is left.
        let line = "soft-stop running for too long, performing a hard-stop.";
        events.warning(line);
        for report in self.stop_reports.iter() {
            let Some(frontend) = &report.frontend else {
                continue;
            };
            let remaining = frontend.current();
            if remaining > 0 {
                let line = format!(
                    "Proxy {} hard-stopped ({remaining} remaining conns will be closed).",
                    report.name
                );
                events.warning(&line);
                send_log(report.log.as_ref(), LEVEL_WARNING, &line);
            }
        }
        for backend in &backends {
            let state = backend.handle.lock();
            for kill in &state.kills {
                kill.send_modify(|generation| *generation += 1);
            }
        }
        self.stopping.hard_stop();
        let drained = async {
            while self.process.current() > 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        if tokio::time::timeout(Duration::from_secs(1), drained)
            .await
            .is_err()
        {
            events.warning("Some tasks resisted to hard-stop, exiting now.");
        }
    }
}

/// The stats page's view of the engine: each proxy's frontend counters and its
/// backend's balancer, read when a page is asked for.
/// HAProxy's SIGHUP (`sig_dump_state()`): every proxy's servers and counts, on stderr
/// and in each proxy's log ([`crate::state_dump`]). Reads what the sessions update; stops
/// nothing.
#[derive(Clone)]
pub struct StateDumper {
    reports: Arc<Vec<StopReport>>,
    /// Under a `-W` master: HAProxy's worker also lists its `GLOBAL` proxy.
    master_cli: bool,
}

impl std::fmt::Debug for StateDumper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateDumper")
            .field("proxies", &self.reports.len())
            .field("master_cli", &self.master_cli)
            .finish()
    }
}

type ProxyLog<'a> = Option<&'a Arc<Mutex<LogSender>>>;

impl StateDumper {
    /// This process is a `-W` master's worker. HAProxy's worker has one more proxy,
    /// `GLOBAL`, the frontend of the socket pair its master's CLI reaches it by
    /// (`mworker_cli_sockpair_new()`), linked after the configuration's proxies and
    /// before `<HTTPCLIENT>`, with no log targets (haproxy 2.6.12, measured). Ours has
    /// no master CLI: the proxy is listed as HAProxy lists it when that CLI is unused,
    /// with no connections.
    pub fn under_master(mut self) -> StateDumper {
        self.master_cli = true;
        self
    }

    fn entries(&self) -> Vec<(ProxyDump, ProxyLog<'_>)> {
        let mut entries: Vec<(ProxyDump, ProxyLog<'_>)> = self
            .reports
            .iter()
            .map(|r| (proxy_dump(r), r.log.as_ref()))
            .collect();
        if self.master_cli && !self.reports.iter().any(|r| r.cli.is_some()) {
            let global = ProxyDump {
                name: "GLOBAL".into(),
                ..ProxyDump::default()
            };
            // `<HTTPCLIENT>` is last.
            entries.insert(entries.len().saturating_sub(1), (global, None));
        }
        entries
    }

    /// The figures the lines show, per proxy in `proxies_list` order.
    pub fn snapshot(&self) -> Vec<ProxyDump> {
        self.entries().into_iter().map(|(dump, _)| dump).collect()
    }

    /// Prints the lines: warnings through `events`, notices to each proxy's log.
    pub fn dump(&self, events: &dyn EngineEvents) {
        let (proxies, logs): (Vec<ProxyDump>, Vec<ProxyLog<'_>>) =
            self.entries().into_iter().unzip();
        for line in dump_lines(&proxies) {
            let (warn, log) = match line.target {
                DumpTarget::Stderr => (true, None),
                DumpTarget::Log(i) => (false, Some(i)),
                DumpTarget::Both(i) => (true, Some(i)),
            };
            if warn {
                events.warning(&line.text);
            }
            if let Some(log) = log.and_then(|i| logs.get(i)) {
                send_log(*log, LEVEL_NOTICE, &line.text);
            }
        }
    }
}

fn proxy_dump(report: &StopReport) -> ProxyDump {
    let get = |t: &Traffic| Traffic::get(&t.sessions);
    let mut dump = ProxyDump {
        name: report.name.clone(),
        frontend_conns: report.frontend.as_ref().map_or(0, ConnLimit::current),
        frontend_cumulated: report.frontend.as_ref().map_or(0, ConnLimit::cumulated),
        backend_cumulated: report.traffic.as_ref().map_or(0, |t| get(&t.backend)),
        ..ProxyDump::default()
    };
    if let Some(cli) = &report.cli {
        use std::sync::atomic::Ordering::Relaxed;
        dump.frontend_conns = cli.current.load(Relaxed);
        dump.backend_conns = cli.current.load(Relaxed);
        dump.frontend_cumulated = cli.cumulated.load(Relaxed);
        dump.backend_cumulated = cli.cumulated.load(Relaxed);
    }
    if report.internal {
        // Weight 0, so never usable, but not stopped (haproxy 2.6.12, measured).
        dump.servers = ["<HTTPCLIENT>", "<HTTPSCLIENT>"]
            .iter()
            .map(|name| ServerDump {
                name: (*name).to_string(),
                up: true,
                sessions: 0,
                queued: 0,
                cumulated: 0,
            })
            .collect();
    }
    if let Some((handle, picker)) = &report.backend {
        dump.backend_conns = picker.backend_sessions();
        let state = handle.lock();
        let balancer = &state.balancer;
        (dump.usable_active, dump.usable_backup) = balancer.usable_counts();
        dump.pending = u32::try_from(balancer.queued()).unwrap_or(u32::MAX);
        dump.unassigned = u32::try_from(balancer.backend_queued()).unwrap_or(u32::MAX);
        dump.servers = (0..balancer.server_count())
            .map(ServerId)
            .map(|id| {
                let name = balancer.server_name(id);
                ServerDump {
                    name: name.to_string(),
                    // Maintenance stops the server in HAProxy (`cur_state` STOPPED).
                    up: balancer.state(id) != ServerState::Stopped && !balancer.admin_state(id).0,
                    sessions: balancer.current_sessions(id),
                    queued: u32::try_from(balancer.server_queued(id)).unwrap_or(u32::MAX),
                    cumulated: report
                        .traffic
                        .as_ref()
                        .and_then(|t| t.servers.get(name))
                        .map_or(0, get),
                }
            })
            .collect();
    }
    dump
}

pub(crate) struct EngineStats {
    started: Instant,
    /// When the process started, in seconds since the epoch (`show info`'s
    /// `Start_time_sec`).
    started_wall: u64,
    maxconn: Option<u32>,
    /// The process-wide connection limit (`global maxconn`, `set maxconn global`).
    process: ConnLimit,
    /// Per proxy (same order as `proxies`), per server: what `show servers state` and
    /// the CLI's CSV show of its address.
    server_infos: Vec<Vec<ServerInfo>>,
    /// Set when the soft stop begins.
    stopping: Stopping,
    /// The live sessions (`show sess`).
    sessions: Arc<crate::sessions::SessionRegistry>,
    /// `global nbthread`, else the CPUs (the engine's threads).
    nbthread: u32,
    /// `global node`, else the host name (`show info`'s `node`, the page's node).
    node: String,
    description: Option<String>,
    /// The open files limit (`Ulimit-n`).
    ulimit_n: u64,
    proxies: Vec<StatsEntry>,
    traffic: TrafficCounters,
    /// What the admin form acts on, one per backend.
    admin: Vec<AdminBackend>,
    /// Where state lines go on stderr; set when the engine runs.
    events: Arc<std::sync::OnceLock<Arc<dyn EngineEvents>>>,
}

/// A server's address as the runtime API shows it.
#[derive(Debug, Clone, Default)]
struct ServerInfo {
    /// `ip:port` (`[ip6]:port`), the CSV's `addr`.
    addr: String,
    ssl: bool,
    check_port: u16,
}

/// A backend as the stats page's admin form reaches it.
struct AdminBackend {
    name: String,
    iid: u32,
    type_str: &'static str,
    handle: BackendHandle,
    log: Option<Arc<Mutex<LogSender>>>,
    check_commands: Vec<Option<mpsc::UnboundedSender<CheckCommand>>>,
    check_bounds: Vec<(u32, u32)>,
}

struct StatsEntry {
    name: String,
    iid: u32,
    mode: ProxyMode,
    frontend: Option<(ConnLimit, Option<u32>)>,
    backend: Option<StatsBackend>,
    /// A `mode http` backend's server pools.
    pools: Option<Arc<BackendPools>>,
}

/// The balancer, `balance` name, and per server its `check` (`rise`, `fall`).
type StatsBackend = (BackendHandle, String, Vec<Option<(u32, u32)>>);

impl std::fmt::Debug for EngineStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineStats")
            .field("proxies", &self.proxies.len())
            .finish()
    }
}

impl EngineStats {
    #[allow(clippy::too_many_arguments)]
    fn new(
        config: &HaproxyConfig,
        frontends: &[(TcpFrontend, usize)],
        backends: &[Backend],
        traffic: TrafficCounters,
        pools: &HashMap<String, Arc<BackendPools>>,
        events: Arc<std::sync::OnceLock<Arc<dyn EngineEvents>>>,
        process: ConnLimit,
        stopping: Stopping,
    ) -> Self {
        let mut proxies = Vec::new();
        let mut admin = Vec::new();
        let uuids = haproxy_conf::server_state::proxy_uuids(config);
        for (position, proxy) in config.proxies.iter().enumerate() {
            if proxy.disabled {
                continue;
            }
            let frontend = frontends
                .iter()
                .find(|(f, _)| f.name == proxy.name)
                .map(|(f, _)| {
                    (
                        f.frontend_limit.clone(),
                        proxy.settings.maxconn.or(config.global.maxconn),
                    )
                });
            // A frontend that is its own backend has no `BACKEND` row (2.6.12).
            let own_backend = backends
                .iter()
                .find(|b| b.name == proxy.name)
                .filter(|_| proxy.kind.has_backend());
            let backend = own_backend.map(|b| {
                let algo = match &proxy.settings.balance {
                    Some(Balance::StaticRr) => "static-rr",
                    Some(Balance::Leastconn) => "leastconn",
                    Some(Balance::First) => "first",
                    Some(Balance::Source) => "source",
                    Some(Balance::Random { .. }) => "random",
                    Some(Balance::Uri { .. }) => "uri",
                    Some(Balance::UrlParam { .. }) => "url_param",
                    Some(Balance::Hdr { .. }) => "hdr",
                    _ => "roundrobin",
                };
                let checks = proxy
                    .servers
                    .iter()
                    .map(|s| {
                        s.options
                            .check
                            .unwrap_or(false)
                            .then(|| (s.options.rise.unwrap_or(2), s.options.fall.unwrap_or(3)))
                    })
                    .collect();
                (b.handle.clone(), algo.to_string(), checks)
            });
            let iid = uuids.get(position).copied().unwrap_or(u32::MAX);
            if let Some(b) = own_backend {
                admin.push(AdminBackend {
                    name: b.name.clone(),
                    iid,
                    type_str: b.type_str,
                    handle: b.handle.clone(),
                    log: b.log.clone(),
                    check_commands: b.check_commands.clone(),
                    check_bounds: b.check_bounds.clone(),
                });
            }
            proxies.push(StatsEntry {
                name: proxy.name.clone(),
                iid,
                mode: if proxy.settings.mode == Mode::Http {
                    ProxyMode::Http
                } else {
                    ProxyMode::Tcp
                },
                frontend,
                backend,
                pools: pools.get(&proxy.name).cloned(),
            });
        }
        let server_infos = config
            .proxies
            .iter()
            .filter(|p| !p.disabled)
            .map(|p| {
                p.servers
                    .iter()
                    .map(|s| {
                        use haproxy_conf::model::{ServerHost, ServerPort};
                        let host = match &s.address.host {
                            ServerHost::Ip(std::net::IpAddr::V6(ip)) => format!("[{ip}]"),
                            ServerHost::Ip(ip) => ip.to_string(),
                            ServerHost::Name(n) => n.clone(),
                            ServerHost::Unix(path) => path.display().to_string(),
                            ServerHost::Abstract(n) => format!("abns@{n}"),
                        };
                        let port = match s.address.port {
                            ServerPort::Fixed(p) => p.to_string(),
                            ServerPort::Same => "0".to_string(),
                            ServerPort::Offset(o) => format!("{o:+}"),
                        };
                        ServerInfo {
                            addr: format!("{host}:{port}"),
                            ssl: s.options.ssl.unwrap_or(false),
                            check_port: s.options.check_port.unwrap_or(0),
                        }
                    })
                    .collect()
            })
            .collect();
        EngineStats {
            started: Instant::now(),
            started_wall: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            maxconn: config.global.maxconn,
            process,
            server_infos,
            stopping,
            sessions: Arc::default(),
            nbthread: config.global.nbthread.unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map_or(1, |n| u32::try_from(n.get()).unwrap_or(1))
            }),
            node: config.global.node.clone().unwrap_or_else(|| {
                nix::unistd::gethostname()
                    .map(|h| h.to_string_lossy().into_owned())
                    .unwrap_or_default()
            }),
            description: config.global.description.clone(),
            ulimit_n: nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
                .map_or(0, |(soft, _)| soft),
            proxies,
            traffic,
            admin,
            events,
        }
    }
}

/// Each proxy's `uuid` (the stats page's `iid`), in configuration order, as
/// `check_config_validity()` numbers them: from 1 in order, disabled proxies included,
/// a proxy without `id` taking the first number from there no `id` line took.
impl StatsSource for EngineStats {
    fn admin_backend(&self, name: &str) -> Option<usize> {
        match name.strip_prefix('#') {
            // `atoi()`: leading digits, 0 when there are none.
            Some(id) => {
                let digits: String = id.chars().take_while(char::is_ascii_digit).collect();
                let id: u32 = digits.parse().unwrap_or(0);
                self.admin.iter().position(|b| b.iid == id)
            }
            None => self.admin.iter().position(|b| b.name == name),
        }
    }

    fn admin_apply(
        &self,
        backend: usize,
        server: &str,
        action: AdminAction,
        reason: &'static str,
    ) -> Option<bool> {
        let b = self.admin.get(backend)?;
        let effect = {
            let mut state = b.handle.lock();
            let id = state.balancer.find(server)?;
            let now = state.now();
            let srv = AdminServer {
                backend: &b.name,
                server,
                id,
                backup: state.balancer.is_backup(id),
                check_configured: b.check_commands.get(id.0).is_some_and(Option::is_some),
                reason,
            };
            let effect = crate::admin::apply(&mut state.balancer, &srv, action, now);
            for change in &effect.changes {
                state.repick(change.redispatch.clone());
                state.deliver(change.dequeued.clone());
            }
            if effect.kill_sessions {
                if let Some(kill) = state.kills.get(id.0) {
                    kill.send_modify(|generation| *generation += 1);
                }
            }
            if effect.down_transition {
                if let Some(view) = state.check_views.get_mut(id.0) {
                    view.down_transitions += 1;
                }
            }
            if let Some(Some(tx)) = b.check_commands.get(id.0) {
                let (rise, full) = b.check_bounds.get(id.0).copied().unwrap_or((1, 1));
                for command in &effect.check {
                    match command {
                        CheckCommand::Enable(on) => {
                            if let Some(slot) = state.check_disabled.get_mut(id.0) {
                                *slot = !on;
                            }
                        }
                        CheckCommand::Pause(on) => {
                            if let Some(view) = state.check_views.get_mut(id.0) {
                                view.health = if *on { 0 } else { rise };
                            }
                        }
                        CheckCommand::HealthFull | CheckCommand::HealthZero => {
                            if let Some(view) = state.check_views.get_mut(id.0) {
                                view.health = if *command == CheckCommand::HealthFull {
                                    full
                                } else {
                                    0
                                };
                            }
                        }
                    }
                    let _ = tx.send(*command);
                }
            }
            effect
        };
        let events = self.events.get();
        for line in &effect.lines {
            if let Some(events) = events {
                events.warning(&line.text);
            }
            send_log(b.log.as_ref(), line.level, &line.text);
        }
        if effect.backend_down {
            if let Some(events) = events {
                events.alert(&backend_down_alert(b.type_str, &b.name));
            }
            send_log(
                b.log.as_ref(),
                LEVEL_EMERG,
                &backend_down_line(b.type_str, &b.name),
            );
        }
        Some(effect.altered)
    }

    /// The stats page's figures: the listeners' connection counts and rates, the
    /// traffic counters (bytes, requests, responses, errors, aborts, rates, times), the
    /// balancer's states and tallies, the checks' views and the reuse pools.
    fn snapshot(&self) -> StatsSnapshot {
        let mut proxies = Vec::new();
        for (position, entry) in self.proxies.iter().enumerate() {
            let infos = self.server_infos.get(position);
            let traffic = self.traffic.proxy(&entry.name);
            let get = Traffic::get;
            let frontend = entry.frontend.as_ref().map(|(limit, maxconn)| {
                let mut row = FrontendRow {
                    scur: limit.current(),
                    smax: limit.most(),
                    stot: limit.cumulated(),
                    slim: limit.limit().or(*maxconn).unwrap_or(0),
                    conn_tot: limit.cumulated(),
                    // Every accepted connection is a session here (no `tcp-request
                    // connection` rules drop one before): `rate` is `conn_rate`.
                    rate: limit.rate().per_second(),
                    rate_max: limit.rate().max(),
                    conn_rate: limit.rate().per_second(),
                    conn_rate_max: limit.rate().max(),
                    ..FrontendRow::default()
                };
                if let Some(t) = traffic.map(|p| &p.frontend) {
                    row.req_tot = get(&t.requests);
                    row.http = t.responses();
                    row.bin = get(&t.bytes_in);
                    row.bout = get(&t.bytes_out);
                    row.ereq = get(&t.failed_requests);
                    row.dreq = get(&t.denied_requests);
                    row.intercepted = get(&t.intercepted_requests);
                    row.dresp = get(&t.denied_responses);
                    row.req_rate = t.request_rate.per_second();
                    row.req_rate_max = t.request_rate.max();
                }
                row
            });
            let backend = entry.backend.as_ref().map(|(handle, algo, checks)| {
                let state = handle.lock();
                let balancer = &state.balancer;
                let now = state.now();
                let mut servers = Vec::new();
                let (mut act, mut bck, mut weight) = (0, 0, 0);
                // `update_backend_weight()`: without usable active servers the backend's
                // weight is its backups' (the first one's without `allbackups`).
                let mut backup_weights: Vec<u32> = Vec::new();
                for i in 0..balancer.server_count() {
                    let id = ServerId(i);
                    let (current_weight, _) = balancer.weight(id);
                    let run = match balancer.state(id) {
                        ServerState::Running => ServerRunState::Running,
                        ServerState::Starting => ServerRunState::Starting,
                        ServerState::Stopped => ServerRunState::Stopped,
                        ServerState::Stopping => ServerRunState::Stopping,
                    };
                    if balancer.is_usable(id) {
                        if balancer.is_backup(id) {
                            bck += 1;
                            backup_weights.push(current_weight);
                        } else {
                            act += 1;
                            weight += current_weight;
                        }
                    }
                    let disabled = state.check_disabled.get(i).copied().unwrap_or(false);
                    let configured = checks.get(i).copied().flatten();
                    let (maint, drain) = balancer.admin_state(id);
                    let served = traffic.and_then(|p| p.servers.get(balancer.server_name(id)));
                    let pool = entry
                        .pools
                        .as_ref()
                        .and_then(|p| p.stats(balancer.server_name(id)))
                        .unwrap_or_default();
                    let tallies = balancer.server_tallies(id, now);
                    let (times, times_max) = served.map_or(([0; 4], [0; 4]), |t| {
                        t.times.read(if entry.mode == ProxyMode::Http {
                            get(&t.requests)
                        } else {
                            get(&t.sessions)
                        })
                    });
                    servers.push(ServerRow {
                        smax: tallies.smax,
                        qmax: tallies.qmax,
                        lbtot: tallies.lbtot,
                        lastchg: tallies.lastchg,
                        rate: served.map_or(0, |t| t.session_rate.per_second()),
                        rate_max: served.map_or(0, |t| t.session_rate.max()),
                        cli_abrt: served.map_or(0, |t| get(&t.client_aborts)),
                        srv_abrt: served.map_or(0, |t| get(&t.server_aborts)),
                        qtime: times[0],
                        ctime: times[1],
                        rtime: times[2],
                        ttime: times[3],
                        qtime_max: times_max[0],
                        ctime_max: times_max[1],
                        rtime_max: times_max[2],
                        ttime_max: times_max[3],
                        connect: pool.connect,
                        reuse: pool.reuse,
                        idle_conn_cur: pool.idle_conn_cur,
                        safe_conn_cur: pool.safe_conn_cur,
                        used_conn_cur: pool.used_conn_cur,
                        need_conn_est: pool.need_conn_est,
                        stot: served.map_or(0, |t| get(&t.sessions)),
                        req_tot: served.map_or(0, |t| get(&t.requests)),
                        http: served.map(Traffic::responses).unwrap_or_default(),
                        bin: served.map_or(0, |t| get(&t.bytes_in)),
                        bout: served.map_or(0, |t| get(&t.bytes_out)),
                        econ: served.map_or(0, |t| get(&t.failed_connections)),
                        eresp: served.map_or(0, |t| get(&t.failed_responses)),
                        wretr: served.map_or(0, |t| get(&t.retries)),
                        wredis: served.map_or(0, |t| get(&t.redispatches)),
                        dresp: served.map_or(0, |t| get(&t.denied_responses)),
                        lastsess: served.map_or(-1, Traffic::seconds_since_last_session),
                        name: balancer.server_name(id).to_string(),
                        maxconn: balancer.maxconn(id),
                        addr: infos
                            .and_then(|v| v.get(i))
                            .map(|info| info.addr.clone())
                            .unwrap_or_default(),
                        sid: u32::try_from(i + 1).unwrap_or(u32::MAX),
                        scur: balancer.served(id),
                        run,
                        weight: current_weight,
                        uweight: current_weight,
                        backup: balancer.is_backup(id),
                        admin: if maint {
                            ServerAdmin::Maint
                        } else if drain {
                            ServerAdmin::Drain
                        } else {
                            ServerAdmin::Ready
                        },
                        check: None,
                        disabled_check: None,
                        health_without_check: state.check_views.get(i).map(|v| v.health),
                        ..ServerRow::default()
                    });
                    let view_of = |(rise, fall): (u32, u32)| {
                        let view = state.check_views.get(i).cloned().unwrap_or_default();
                        let last = view.last.as_ref();
                        StatsCheck {
                            rise,
                            fall,
                            health: view.health,
                            in_progress: false,
                            status: last.map(|r| r.status),
                            code: last.and_then(|r| r.code).map(u32::from),
                            duration_ms: last.map_or(0, |r| {
                                u64::try_from(r.duration.as_millis()).unwrap_or(u64::MAX)
                            }),
                            info: last.map(|r| r.info.clone()).unwrap_or_default(),
                            failed_checks: view.failed_checks,
                            down_transitions: view.down_transitions,
                            downtime: tallies.downtime,
                        }
                    };
                    if let Some(row) = servers.last_mut() {
                        let view = configured.map(view_of);
                        if disabled {
                            row.disabled_check = view;
                        } else {
                            row.check = view;
                        }
                    }
                }
                if act == 0 {
                    weight = if balancer.all_backups() {
                        backup_weights.iter().sum()
                    } else {
                        backup_weights.iter().copied().find(|w| *w > 0).unwrap_or(0)
                    };
                }
                let be = traffic.map(|p| &p.backend);
                let tallies = balancer.backend_tallies(now);
                let (times, times_max) = be.map_or(([0; 4], [0; 4]), |t| {
                    t.times.read(if entry.mode == ProxyMode::Http {
                        get(&t.requests)
                    } else {
                        get(&t.sessions)
                    })
                });
                BackendSide {
                    row: BackendRow {
                        smax: tallies.smax,
                        qmax: tallies.qmax,
                        lbtot: tallies.lbtot,
                        lastchg: tallies.lastchg,
                        downtime: tallies.downtime,
                        chkdown: tallies.down_transitions,
                        rate: be.map_or(0, |t| t.session_rate.per_second()),
                        rate_max: be.map_or(0, |t| t.session_rate.max()),
                        cli_abrt: be.map_or(0, |t| get(&t.client_aborts)),
                        srv_abrt: be.map_or(0, |t| get(&t.server_aborts)),
                        qtime: times[0],
                        ctime: times[1],
                        rtime: times[2],
                        ttime: times[3],
                        qtime_max: times_max[0],
                        ctime_max: times_max[1],
                        rtime_max: times_max[2],
                        ttime_max: times_max[3],
                        qcur: u32::try_from(balancer.queued()).unwrap_or(u32::MAX),
                        scur: servers.iter().map(|s| s.scur).sum(),
                        weight,
                        act,
                        bck,
                        algo: algo.clone(),
                        stot: be.map_or(0, |t| get(&t.sessions)),
                        req_tot: be.map_or(0, |t| get(&t.requests)),
                        http: be.map(Traffic::responses).unwrap_or_default(),
                        bin: be.map_or(0, |t| get(&t.bytes_in)),
                        bout: be.map_or(0, |t| get(&t.bytes_out)),
                        econ: be.map_or(0, |t| get(&t.failed_connections)),
                        eresp: be.map_or(0, |t| get(&t.failed_responses)),
                        wretr: be.map_or(0, |t| get(&t.retries)),
                        wredis: be.map_or(0, |t| get(&t.redispatches)),
                        dreq: be.map_or(0, |t| get(&t.denied_requests)),
                        dresp: be.map_or(0, |t| get(&t.denied_responses)),
                        lastsess: be.map_or(-1, Traffic::seconds_since_last_session),
                        connect: servers.iter().map(|s| s.connect).sum(),
                        reuse: servers.iter().map(|s| s.reuse).sum(),
                        ..BackendRow::default()
                    },
                    servers,
                }
            });
            proxies.push(ProxyStats {
                name: entry.name.clone(),
                iid: entry.iid,
                mode: entry.mode,
                description: None,
                frontend,
                backend,
            });
        }
        StatsSnapshot {
            process: ProcessInfo {
                version: format!(
                    "{}-ha-compat-{}",
                    haproxy_conf::version::HAPROXY_COMPAT_VERSION,
                    env!("CARGO_PKG_VERSION")
                ),
                release_date: "2023/03/28".to_string(),
                pid: std::process::id(),
                uptime_secs: self.started.elapsed().as_secs(),
                maxconn: u64::from(self.process.limit().or(self.maxconn).unwrap_or(0)),
                nbthread: self.nbthread,
                node: self.node.clone(),
                description: self.description.clone(),
                ulimit_n: self.ulimit_n,
                start_time_secs: self.started_wall,
                stopping: self.stopping.is_stopping(),
                ..ProcessInfo::default()
            },
            proxies,
        }
    }
}

/// A `mode http` backend's server pools: `http-reuse`, `retry-on`, and each server's
/// `pool-max-conn`, `pool-purge-delay`, `pool-low-conn` (read as `srv_parse_pool_*()`
/// reads them: `atoi()` for the counts).
fn backend_pools(proxy: &Proxy) -> Result<Arc<BackendPools>, ProxyError> {
    let mode = proxy
        .settings
        .http_reuse
        .as_deref()
        .and_then(ReuseMode::from_keyword)
        .unwrap_or_default();
    let retry_on: Vec<String> = proxy
        .settings
        .unmodelled
        .iter()
        .rev()
        .find(|d| d.words.first().is_some_and(|w| w == "retry-on"))
        .map(|d| d.words[1..].to_vec())
        .unwrap_or_default();
    let mut servers = Vec::new();
    for server in &proxy.servers {
        let mut limits = PoolLimits::default();
        let at = || format!("{}:{}", server.at.file, server.at.line);
        for words in &server.options.other {
            let (Some(keyword), value) = (words.first(), words.get(1)) else {
                continue;
            };
            let value = value.map(String::as_str).unwrap_or("");
            match keyword.as_str() {
                "pool-max-conn" => {
                    limits.max_idle = match atoi(value) {
                        -1 => None,
                        n => Some(usize::try_from(n).map_err(|_| {
                            ProxyError::Plan(format!("{}: 'pool-max-conn' must be >= -1", at()))
                        })?),
                    }
                }
                "pool-low-conn" => {
                    limits.low_idle = usize::try_from(atoi(value)).unwrap_or(0);
                }
                "pool-purge-delay" => {
                    let parsed = haproxy_conf::units::parse_time(
                        value,
                        haproxy_conf::units::TimeUnit::Millis,
                    )
                    .map_err(|_| {
                        ProxyError::Plan(format!(
                            "{}: 'pool-purge-delay' expects a delay, not '{value}'",
                            at()
                        ))
                    })?;
                    limits.purge_delay = Duration::from_millis(u64::from(parsed.value));
                }
                _ => {}
            }
        }
        servers.push(PoolServer {
            name: server.name.clone(),
            limits,
            send_proxy: server.options.send_proxy == Some(true)
                || server.options.send_proxy_v2 == Some(true),
        });
    }
    // BE_LB_KIND_HI: the hashing algorithms.
    let hashes = matches!(
        proxy.settings.balance,
        Some(
            Balance::Source
                | Balance::Uri { .. }
                | Balance::UrlParam { .. }
                | Balance::Hdr { .. }
                | Balance::RdpCookie { .. }
                | Balance::Hash { .. }
        )
    );
    Ok(BackendPools::new(
        mode,
        retries_make_reuse_safe(&retry_on),
        !hashes,
        servers,
    ))
}

/// C's `atoi()`: optional blanks and sign, then digits; 0 when there are none.
fn atoi(text: &str) -> i64 {
    let t = text.trim_start();
    let (negative, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let n = digits
        .bytes()
        .take_while(u8::is_ascii_digit)
        .fold(0i64, |n, d| {
            n.saturating_mul(10).saturating_add(i64::from(d - b'0'))
        });
    if negative {
        -n
    } else {
        n
    }
}

fn build_backend(
    config: &HaproxyConfig,
    proxy: &Proxy,
    epoch: Instant,
    clock: LogClock,
) -> Result<Backend, ProxyError> {
    let index_seed = proxy
        .name
        .bytes()
        .fold(2_463_534_242u32, |h, b| h.rotate_left(5) ^ u32::from(b));
    let mut balancer = Balancer::new(proxy, index_seed)?;
    // `load-server-state-from-file`: the states the configuration check read, given
    // back before anything runs (its lines were printed with the configuration's).
    let loaded: Vec<Option<&haproxy_conf::server_state::ServerStateApply>> = proxy
        .servers
        .iter()
        .map(|s| {
            config
                .server_state
                .iter()
                .find(|a| a.backend == proxy.name && a.server == s.name)
        })
        .collect();
    for (i, apply) in loaded.iter().enumerate() {
        let Some(apply) = apply else { continue };
        let id = ServerId(i);
        if apply.maint {
            let _ = balancer.set_maintenance(id, true, Duration::ZERO);
        } else if apply.down {
            let _ = balancer.set_stopped(id, Duration::ZERO);
        }
        if apply.drain {
            let _ = balancer.set_drain(id, true, Duration::ZERO);
        }
        if let Some(weight) = apply.uweight {
            // A static algorithm refuses other weights at run time; HAProxy's loader
            // sets `uweight` anyway, ours keeps the configured one then.
            let _ = balancer.set_weight(id, weight, Duration::ZERO);
        }
    }
    let mut targets = Vec::new();
    let mut kills = Vec::new();
    for server in &proxy.servers {
        let address = server_address(server, proxy).map_err(ProxyError::Plan)?;
        let o = &server.options;
        let send_proxy = if o.send_proxy_v2 == Some(true) {
            Some(SendProxy::V2)
        } else if o.send_proxy == Some(true) {
            Some(SendProxy::V1)
        } else {
            None
        };
        let (kill, switch) = KillSwitch::channel();
        kills.push(kill);
        targets.push(ServerTarget {
            name: server.name.clone(),
            address,
            send_proxy,
            kill: switch,
        });
    }
    let log = log_sender(config, &proxy.settings, clock)?;
    let log_health_checks = proxy
        .settings
        .options
        .flag("log-health-checks")
        .unwrap_or(false);
    let mut checks = Vec::new();
    let mut check_commands = Vec::new();
    for (i, server) in proxy.servers.iter().enumerate() {
        if server.options.check != Some(true) {
            check_commands.push(None);
            continue;
        }
        let (commands_tx, commands) = CheckCommands::channel();
        if loaded[i].is_some_and(|a| a.check_disabled) {
            // Read by the task when it starts (`disable health` kept across the reload).
            let _ = commands_tx.send(CheckCommand::Enable(false));
        }
        check_commands.push(Some(commands_tx));
        let spec = ProbeSpec::new(server, &proxy.settings, targets[i].address.ip())?;
        checks.push(ServerCheck {
            // `key.0`, the backend's index, is set by `Engine::build`.
            key: (0, i),
            backend: proxy.name.clone(),
            server: server.name.clone(),
            backup: server.options.backup == Some(true),
            weight_zero: server.options.weight == Some(0),
            params: CheckParams::new(server, &proxy.settings, &config.global),
            spec,
            log_health_checks,
            first: Duration::ZERO,
            in_maintenance: server.options.disabled == Some(true)
                || server.unresolved
                || loaded[i].is_some_and(|a| a.maint),
            loaded_down: loaded[i].is_some_and(|a| a.down),
            commands,
        });
    }
    Ok(Backend {
        name: proxy.name.clone(),
        type_str: proxy.kind.type_str(),
        handle: BackendHandle {
            state: Arc::new(Mutex::new(BackendState {
                balancer,
                check_disabled: loaded
                    .iter()
                    .map(|a| a.is_some_and(|a| a.check_disabled))
                    .collect(),
                kills,
                // A server starts with health `rise` (up, down at the first failure);
                // one in maintenance at 0.
                check_views: proxy
                    .servers
                    .iter()
                    .zip(&loaded)
                    .map(|(s, loaded)| CheckView {
                        health: if let Some(a) = loaded {
                            a.health
                        } else if s.options.disabled == Some(true) || s.unresolved {
                            0
                        } else {
                            s.options.effective_rise().max(1)
                        },
                        ..CheckView::default()
                    })
                    .collect(),
                targets,
                waiters: HashMap::new(),
                epoch,
            })),
            queue_changed: Arc::new(Notify::new()),
        },
        checks,
        check_commands,
        check_bounds: proxy
            .servers
            .iter()
            .map(|s| {
                let rise = s.options.effective_rise().max(1);
                (rise, rise + s.options.effective_fall().max(1) - 1)
            })
            .collect(),
        log,
    })
}

/// Whether the engine runs `proxy` as a backend: a backend or `listen`, or a frontend
/// without `default_backend` (its own backend without servers, as HAProxy's
/// `defbe.be = px`).
fn runs_as_backend(proxy: &Proxy) -> bool {
    proxy.kind.has_backend() || proxy.settings.default_backend.is_none()
}

/// Sends `line` at `level` to a proxy's log targets, if it has any.
fn send_log(log: Option<&Arc<Mutex<LogSender>>>, level: u8, line: &str) {
    if let Some(log) = log {
        // A panicked holder leaves a usable sender (sockets and counters).
        let mut sender = match log.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        sender.send(level, SystemTime::now(), line);
    }
}

/// Applies one check report to its backend's balancer and reports the change.
fn apply_report(backend: &Backend, report: &CheckReport, events: &dyn EngineEvents) {
    let send = |level: u8, line: &str| send_log(backend.log.as_ref(), level, line);
    if let Some(line) = &report.health_line {
        send(LEVEL_NOTICE, line);
    }
    {
        let mut state = backend.handle.lock();
        if let Some(view) = state.check_views.get_mut(report.key.1) {
            view.health = report.health;
            view.last = Some(report.result.clone());
            if report.counted_failure {
                view.failed_checks += 1;
            }
        }
    }
    let Some(transition) = report.transition else {
        return;
    };
    let change = {
        let mut state = backend.handle.lock();
        let now = state.now();
        let id = ServerId(report.key.1);
        let change = match transition {
            crate::health::Transition::Down => state.balancer.set_stopped(id, now),
            crate::health::Transition::Up => state.balancer.set_running(id, now),
        };
        if let Some(c) = &change {
            state.repick(c.redispatch.clone());
            state.deliver(c.dequeued.clone());
            if transition == crate::health::Transition::Down {
                if let Some(view) = state.check_views.get_mut(report.key.1) {
                    view.down_transitions += 1;
                }
            }
        }
        change
    };
    let Some(change) = change else {
        return;
    };
    if let Some(line) = report.state_line(&change) {
        events.warning(&line);
        let level = match transition {
            crate::health::Transition::Down => LEVEL_ALERT,
            crate::health::Transition::Up => LEVEL_NOTICE,
        };
        send(level, &line);
    }
    if change.backend_down {
        events.alert(&backend_down_alert(backend.type_str, &backend.name));
        send(
            LEVEL_EMERG,
            &backend_down_line(backend.type_str, &backend.name),
        );
    }
}

/// Expires queued connections (`timeout queue`, 503 `sQ`) and ramps `slowstart`
/// weights, at the balancer's deadlines.
async fn queue_timer(handle: BackendHandle) {
    loop {
        let (deadline, epoch) = {
            let state = handle.lock();
            (state.balancer.next_deadline(state.now()), state.epoch)
        };
        let notified = handle.queue_changed.notified();
        match deadline {
            Some(d) => {
                let at = tokio::time::Instant::from_std(epoch + d);
                tokio::select! {
                    _ = tokio::time::sleep_until(at) => {}
                    _ = notified => continue,
                }
            }
            None => {
                notified.await;
                continue;
            }
        }
        let mut state = handle.lock();
        let now = state.now();
        for (ticket, position) in state.balancer.expire_queue(now) {
            if let Some(w) = state.waiters.remove(&ticket) {
                let _ = w.send(None, position);
            }
        }
        state.balancer.refresh(now);
    }
}

impl EngineStats {
    fn server_id(&self, server: crate::cli::ServerRef) -> Option<(&BackendHandle, ServerId)> {
        let (handle, _, _) = self.proxies.get(server.backend)?.backend.as_ref()?;
        Some((handle, ServerId(server.server)))
    }
}

impl crate::cli::CliTarget for EngineStats {
    fn snapshot(&self) -> crate::http::stats::StatsSnapshot {
        StatsSource::snapshot(self)
    }

    fn info_extra(&self) -> crate::cli::InfoExtra {
        let snapshot = StatsSource::snapshot(self);
        let frontends = || snapshot.proxies.iter().filter_map(|p| p.frontend.as_ref());
        crate::cli::InfoExtra {
            hard_maxconn: u64::from(self.maxconn.unwrap_or(0)),
            cum_conns: self.process.cumulated(),
            cum_req: frontends().map(|f| f.req_tot).sum(),
            max_conn_rate: u64::from(self.process.rate().max()),
            sess_rate: u64::from(self.process.rate().per_second()),
            max_sess_rate: u64::from(self.process.rate().max()),
            stopping: self.stopping.is_stopping(),
            jobs: u64::from(self.process.current()),
            listeners: 0,
            total_bytes_out: frontends().map(|f| f.bout).sum(),
            start_time_sec: self.started_wall,
        }
    }

    fn find_server(
        &self,
        backend: &str,
        server: &str,
    ) -> Result<crate::cli::ServerRef, crate::cli::LookupError> {
        use crate::cli::LookupError;
        let position = self
            .find_backend(backend)
            .ok_or(LookupError::NoSuchBackend)?;
        let (handle, _, _) = self.proxies[position]
            .backend
            .as_ref()
            .ok_or(LookupError::NoSuchBackend)?;
        let state = handle.lock();
        let balancer = &state.balancer;
        let found = match server.strip_prefix('#') {
            Some(id) => {
                let id: usize = id.parse().unwrap_or(0);
                (id >= 1 && id <= balancer.server_count()).then(|| ServerId(id - 1))
            }
            None => balancer.find(server),
        };
        found
            .map(|id| crate::cli::ServerRef {
                backend: position,
                server: id.0,
            })
            .ok_or(LookupError::NoSuchServer)
    }

    fn find_backend(&self, name: &str) -> Option<usize> {
        let by_id = name.strip_prefix('#').and_then(|id| id.parse::<u32>().ok());
        self.proxies.iter().position(|p| {
            p.backend.is_some()
                && match by_id {
                    Some(id) => p.iid == id,
                    None => p.name == name,
                }
        })
    }

    fn weight(&self, server: crate::cli::ServerRef) -> (u32, u32) {
        let Some((handle, id)) = self.server_id(server) else {
            return (0, 0);
        };
        let state = handle.lock();
        (
            state.balancer.weight(id).0,
            state.balancer.initial_weight(id),
        )
    }

    fn set_weight(&self, server: crate::cli::ServerRef, weight: u32) -> Result<(), String> {
        let Some((handle, id)) = self.server_id(server) else {
            return Ok(());
        };
        let mut state = handle.lock();
        let now = state.now();
        state
            .balancer
            .set_weight(id, weight, now)
            .map_err(|e| match e {
                ProxyError::Weight(message) => message,
                other => other.to_string(),
            })
    }

    fn admin(&self, server: crate::cli::ServerRef, action: AdminAction) {
        let Some(entry) = self.proxies.get(server.backend) else {
            return;
        };
        let Some(admin) = self.admin_backend(&entry.name) else {
            return;
        };
        let name = {
            let Some((handle, id)) = self.server_id(server) else {
                return;
            };
            let state = handle.lock();
            state.balancer.server_name(id).to_string()
        };
        let _ = self.admin_apply(admin, &name, action, crate::admin::CLI);
    }

    fn set_server_maxconn(&self, server: crate::cli::ServerRef, maxconn: u32) {
        let Some((handle, id)) = self.server_id(server) else {
            return;
        };
        let mut state = handle.lock();
        let now = state.now();
        let dequeued = state.balancer.set_maxconn(id, maxconn, now);
        state.deliver(dequeued);
    }

    fn set_frontend_maxconn(&self, name: &str, maxconn: u32) -> bool {
        match self
            .proxies
            .iter()
            .find(|p| p.name == name)
            .and_then(|p| p.frontend.as_ref())
        {
            Some((limit, _)) => {
                // 0 is no limit of its own, as a frontend without `maxconn`.
                limit.set_limit((maxconn > 0).then_some(maxconn));
                true
            }
            None => false,
        }
    }

    fn set_global_maxconn(&self, maxconn: u32) {
        self.process
            .set_limit((maxconn > 0 && maxconn != u32::MAX).then_some(maxconn));
    }

    fn sessions(&self) -> Option<Vec<crate::cli::SessionLine>> {
        Some(self.sessions.lines())
    }

    fn server_extras(&self, server: crate::cli::ServerRef) -> (bool, u16) {
        self.server_infos
            .get(server.backend)
            .and_then(|v| v.get(server.server))
            .map_or((false, 0), |i| (i.ssl, i.check_port))
    }
}

#[cfg(test)]
mod pool_config_tests {
    use super::*;

    fn pools(backend: &str) -> Result<Arc<BackendPools>, ProxyError> {
        let text = format!(
            "defaults\n  mode http\n  timeout connect 1s\n  timeout client 1s\n  \
             timeout server 1s\nbackend be\n{backend}\n"
        );
        let config = crate::balance::tests::load_config(&text);
        backend_pools(config.proxy("be").expect("be"))
    }

    #[test]
    fn atoi_reads_as_c_does() {
        assert_eq!(atoi("-1"), -1);
        assert_eq!(atoi(" +12x"), 12);
        assert_eq!(atoi("x"), 0);
    }

    #[test]
    fn the_backend_and_server_words() {
        let p = pools(
            "  http-reuse aggressive\n  retry-on all-retryable-errors\n  balance source\n  \
             server w1 127.0.0.1:1 pool-max-conn 3 pool-purge-delay 2s pool-low-conn 2\n  \
             server w2 127.0.0.1:2 pool-max-conn -1 pool-purge-delay 0",
        )
        .unwrap();
        assert_eq!(
            (p.mode, p.retry_safe, p.prefer_last),
            (ReuseMode::Aggressive, true, false)
        );
        let w1 = PoolLimits {
            max_idle: Some(3),
            purge_delay: Duration::from_secs(2),
            low_idle: 2,
        };
        let w2 = PoolLimits {
            max_idle: None,
            purge_delay: Duration::ZERO,
            low_idle: 0,
        };
        assert_eq!((p.limits("w1"), p.limits("w2")), (Some(w1), Some(w2)));
        let defaults = pools("  server w1 127.0.0.1:1").unwrap();
        assert_eq!(
            (defaults.mode, defaults.retry_safe, defaults.prefer_last),
            (ReuseMode::Safe, false, true)
        );
        assert_eq!(defaults.limits("w1"), Some(PoolLimits::default()));
        assert!(pools("  server w1 127.0.0.1:1 pool-max-conn -2").is_err());
    }
}
