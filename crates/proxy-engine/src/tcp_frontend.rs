//! A `mode tcp` frontend running: listeners -> sessions -> traffic log lines, with the
//! server choice supplied by the caller (the balancer) through [`ServerPicker`].
//!
//! Log lines as HAProxy 2.6 writes them (src/frontend.c, src/stream.c):
//! - with `option tcplog`, one line when the session ends (not for sessions that sent
//!   nothing when `option dontlognull` is set);
//! - without it, `Connect from IP:PORT to IP:PORT (FRONTEND/TCP)` when the connection is
//!   accepted;
//! - `%ac`/`%fc` count this session, `%bc`/`%sc` are sampled after it has left the
//!   backend and the server (as the reference's `1/1/0/0/0` for a lone session).

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use haproxy_conf::model::{Balance, HaproxyConfig, HttpConnectionMode, Mode, Proxy, ProxySettings};

use crate::balance::QueuePosition;
use crate::client_stream::ClientStream;
use crate::counters::TrafficCounters;
use crate::error::ProxyError;
use crate::http::cookie::CookiePersistence;
use crate::http::errors::ErrorPages;
use crate::http::h1::HeadLimits;
use crate::http::session::{
    run_http_connection, BackendPools, ConnectionMode, ForwardFor, HttpRoute, HttpRouting,
    HttpSettings, ProxyRules, RequestHash,
};
use crate::listener::{open_listener, plan_listeners, ConnLimit, ListenKey, Listener};
use crate::tcp_session::{
    run_session, BackendView, ClientConnection, Picked, PipeLimits, Redispatch, RequestHint,
    ServerPicker, SessionRecord, SessionSettings, SessionTimeouts, SplicePolicy, Splicing,
    DEFAULT_RETRIES,
};
use crate::tls::{HandshakeError, TlsTerminator};
use crate::traffic_log::{
    format_httplog, format_tcplog, is_error_request, is_error_session, is_null_session,
    proxy_targets, HttpLogRecord, LogClock, LogCounters, LogIdentity, LogSender, TcpLogRecord,
    LEVEL_ERR, LEVEL_INFO,
};

/// A balancer shared by every session of a backend, plus the connection counts the log
/// lines show. Locked only for the duration of each call, never across an await. Each
/// session has its own clone.
#[derive(Clone)]
pub struct SharedPicker {
    inner: Arc<Mutex<Counted>>,
    /// This session's `%sc`, sampled when it left its server: after its own departure,
    /// before its slot went to a queued session. HAProxy logs the line before the
    /// session it woke has connected (haproxy 2.6.12: `3/3/2/0/0` for the session whose
    /// end dequeues another); sampling later would race that session's connect.
    server_count_at_release: Option<u32>,
    /// This request's hashed parts (`mode http` with `balance uri/url_param/hdr`).
    request: Option<RequestHint>,
    /// The backend's stats counters, for what HAProxy counts as it happens.
    traffic: Option<Arc<crate::counters::ProxyTraffic>>,
}

impl std::fmt::Debug for SharedPicker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedPicker").finish_non_exhaustive()
    }
}

struct Counted {
    picker: Box<dyn ServerPicker>,
    backend_sessions: u32,
    server_sessions: HashMap<String, u32>,
}

impl SharedPicker {
    pub fn new(picker: Box<dyn ServerPicker>) -> SharedPicker {
        SharedPicker {
            inner: Arc::new(Mutex::new(Counted {
                picker,
                backend_sessions: 0,
                server_sessions: HashMap::new(),
            })),
            server_count_at_release: None,
            request: None,
            traffic: None,
        }
    }

    /// Counts the sessions entering the backend and the connection attempts in `traffic`.
    pub fn counting(mut self, traffic: Option<Arc<crate::counters::ProxyTraffic>>) -> Self {
        self.traffic = traffic;
        self
    }

    /// The request this session's next picks are for (`balance uri/url_param/hdr`).
    pub(crate) fn set_request(&mut self, request: Option<RequestHint>) {
        self.request = request;
    }

    fn with<R>(&self, f: impl FnOnce(&mut Counted) -> R) -> R {
        // A panic while holding the lock leaves plain counters behind: keep using them.
        let mut guard = match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }

    pub(crate) fn enter_backend(&self) {
        self.with(|c| c.backend_sessions += 1);
        if let Some(t) = &self.traffic {
            t.backend_entered();
        }
    }

    pub(crate) fn leave_backend(&self) {
        self.with(|c| c.backend_sessions = c.backend_sessions.saturating_sub(1));
    }

    /// The streams in the backend now (HAProxy's `beconn`, the log's `%bc`).
    pub fn backend_sessions(&self) -> u32 {
        self.with(|c| c.backend_sessions)
    }

    /// `%bc` now and `%sc` (as it was when the session left its server, if it was
    /// connected).
    pub(crate) fn counts(&self, server: Option<&str>) -> (u32, u32) {
        self.with(|c| {
            let sc = server.and_then(|s| c.server_sessions.get(s)).copied();
            let sc = self.server_count_at_release.or(sc);
            (c.backend_sessions, sc.unwrap_or(0))
        })
    }
}

impl ServerPicker for SharedPicker {
    fn pick(&mut self, client: SocketAddr, previous: Option<&str>) -> Picked {
        let request = self.request.as_ref();
        self.with(|c| match request {
            Some(r) => c.picker.pick_for_request(client, r, previous),
            None => c.picker.pick(client, previous),
        })
    }

    fn cancel(&mut self, ticket: u64) -> QueuePosition {
        self.with(|c| c.picker.cancel(ticket))
    }

    fn view(&self, server: &str) -> BackendView {
        self.with(|c| c.picker.view(server))
    }

    fn backend_name(&self) -> Option<String> {
        self.with(|c| c.picker.backend_name())
    }

    fn connection_opened(&mut self, server: &str) {
        self.with(|c| c.picker.connection_opened(server));
        if let Some(t) = &self.traffic {
            t.server_attempt(server);
        }
    }

    fn connection_failed(&mut self, server: &str) {
        self.with(|c| c.picker.connection_failed(server));
    }

    fn connected(&mut self, server: &str) {
        self.with(|c| {
            *c.server_sessions.entry(server.to_string()).or_insert(0) += 1;
            c.picker.connected(server);
        });
    }

    fn released(&mut self, server: &str, was_connected: bool) {
        let at_release = self.with(|c| {
            let mut at_release = None;
            if was_connected {
                if let Some(n) = c.server_sessions.get_mut(server) {
                    *n = n.saturating_sub(1);
                    at_release = Some(*n);
                }
            }
            c.picker.released(server, was_connected);
            at_release
        });
        if at_release.is_some() {
            self.server_count_at_release = at_release;
        }
    }
}

/// How a frontend logs.
#[derive(Debug, Clone)]
pub struct TrafficLogging {
    pub sender: Arc<Mutex<LogSender>>,
    /// `option tcplog`: a line per session at its end; otherwise a `Connect from` line.
    pub tcplog: bool,
    /// `option httplog` (`mode http`): a line per request.
    pub httplog: bool,
    pub dontlognull: bool,
    /// `option dontlog-normal`: only sessions with an error or a retry are logged.
    pub dontlog_normal: bool,
    /// `option log-separate-errors`: such sessions are logged at `err`, not `info`.
    pub separate_errors: bool,
    pub clock: LogClock,
}

impl TrafficLogging {
    fn send(&self, message: &str) {
        self.send_at(LEVEL_INFO, message);
    }

    fn send_at(&self, level: u8, message: &str) {
        let mut sender = match self.sender.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        sender.send(level, SystemTime::now(), message);
    }
}

/// Everything a frontend needs to run (`mode tcp`, or `mode http` with `http` set).
#[derive(Debug)]
pub struct TcpFrontend {
    pub name: String,
    pub backend: String,
    pub listeners: Vec<Listener>,
    /// Per listener (same order): its bind's TLS termination with `ssl`.
    pub tls: Vec<Option<Arc<TlsTerminator>>>,
    /// What HAProxy would warn about the binds' TLS settings (and what ha-compat's TLS
    /// cannot map), for the caller to print.
    pub warnings: Vec<String>,
    pub settings: SessionSettings,
    /// `mode http`: requests are parsed and forwarded one by one, along the frontend's
    /// rules (set by the engine once every backend exists: [`http_routing`]).
    pub http: Option<HttpRouting>,
    pub logging: Option<TrafficLogging>,
    pub frontend_limit: ConnLimit,
    pub process_limit: ConnLimit,
    /// The stats page's counters (the engine's; empty outside an engine).
    pub counters: TrafficCounters,
    /// Where its sessions are listed (`show sess`; the engine's).
    pub sessions: Option<Arc<crate::sessions::SessionRegistry>>,
}

fn flag(proxy: &Proxy, name: &str) -> bool {
    proxy.settings.options.flag(name).unwrap_or(false)
}

/// The backend's `option redispatch [N]` (its `redispatch_after`, see
/// [`after_connect_failure`](crate::tcp_session::after_connect_failure)).
fn redispatch(backend: &Proxy) -> Redispatch {
    if !flag(backend, "redispatch") {
        return Redispatch::Off;
    }
    match backend.settings.options.redispatch_after.unwrap_or(-1) {
        n if n < 0 => Redispatch::BeforeEnd(u32::try_from(n.unsigned_abs()).unwrap_or(u32::MAX)),
        n => Redispatch::Every(u32::try_from(n).unwrap_or(u32::MAX)),
    }
}

/// Which directions splice (src/stream.c): `option splice-request` / `splice-response`
/// on the frontend or the backend always, `splice-auto` on either once the direction is a
/// fast stream; nothing with `global nosplice` (`pipes` is `None`).
pub fn splicing(frontend: &Proxy, backend: &Proxy, pipes: Option<PipeLimits>) -> Splicing {
    let either = |name: &str| flag(frontend, name) || flag(backend, name);
    let policy = |always: &str| {
        if pipes.is_none() {
            SplicePolicy::Never
        } else if either(always) {
            SplicePolicy::Always
        } else if either("splice-auto") {
            SplicePolicy::Auto
        } else {
            SplicePolicy::Never
        }
    };
    Splicing {
        request: policy("splice-request"),
        response: policy("splice-response"),
        pipes: pipes.unwrap_or_default(),
    }
}

/// The pipes splicing may use, `None` with `global nosplice`. `maxpipes` defaults to a
/// quarter of the global `maxconn` (HAProxy's `compute_ideal_maxpipes()` when the
/// splicing frontends' `maxconn` add up to at least the global one, the usual case),
/// unlimited without a global `maxconn`; `tune.pipesize` as given (bytes, `atol`).
pub fn pipe_limits(config: &HaproxyConfig) -> Option<PipeLimits> {
    let global = &config.global;
    let nosplice = global
        .unmodelled
        .iter()
        .any(|d| d.words.first().is_some_and(|w| w == "nosplice"));
    if nosplice {
        return None;
    }
    // Both are integers read with `atol` (kept as written in the model's `tune` map).
    let number = |name: &str| {
        let value = haproxy_conf::units::atol(global.tune.get(name)?);
        usize::try_from(value).ok().filter(|&n| n > 0)
    };
    let max_pipes = number("maxpipes").or_else(|| {
        let maxconn = usize::try_from(global.maxconn?).ok()?;
        Some(if maxconn >= 4 { maxconn / 4 } else { maxconn })
    });
    let pipe_size = number("tune.pipesize");
    Some(PipeLimits {
        max_pipes,
        pipe_size,
    })
}

/// The session settings of `frontend` sending to `backend` (the same proxy for `listen`).
pub fn session_settings(
    frontend: &Proxy,
    backend: &Proxy,
    pipes: Option<PipeLimits>,
) -> SessionSettings {
    SessionSettings {
        timeouts: SessionTimeouts::from_model(
            &frontend.settings.timeouts,
            &backend.settings.timeouts,
        ),
        retries: backend.settings.retries.unwrap_or(DEFAULT_RETRIES),
        redispatch: redispatch(backend),
        client_keepalive: flag(frontend, "tcpka") || flag(frontend, "clitcpka"),
        abort_on_close: frontend.settings.mode != Mode::Http || flag(backend, "abortonclose"),
        server_keepalive: flag(backend, "tcpka") || flag(backend, "srvtcpka"),
        splice: splicing(frontend, backend, pipes),
    }
}

/// The system host name, for `log-send-hostname` without an argument.
fn system_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

/// The log sender of `proxy` (its targets, or global's with `log global`), `None` when
/// it logs nowhere.
pub fn log_sender(
    config: &HaproxyConfig,
    settings: &ProxySettings,
    clock: LogClock,
) -> Result<Option<Arc<Mutex<LogSender>>>, ProxyError> {
    let targets = proxy_targets(&config.global.logs, &settings.logs)?;
    if targets.is_empty() {
        return Ok(None);
    }
    let hostname = config.global.log_send_hostname.as_ref().map(|h| {
        if h.is_empty() {
            system_hostname()
        } else {
            h.clone()
        }
    });
    let identity = LogIdentity {
        tag: settings
            .log_tag
            .clone()
            .or_else(|| config.global.log_tag.clone())
            .unwrap_or_else(|| "haproxy".into()),
        pid: std::process::id(),
        hostname,
        clock,
    };
    Ok(Some(Arc::new(Mutex::new(LogSender::new(
        identity, targets,
    )?))))
}

impl TcpFrontend {
    /// Plans and opens the listeners of frontend `name` (inside a tokio runtime) and its
    /// logging, from the configuration.
    pub fn from_config(
        config: &HaproxyConfig,
        name: &str,
        process_limit: ConnLimit,
        clock: LogClock,
    ) -> Result<TcpFrontend, ProxyError> {
        let frontend = config
            .proxy(name)
            .filter(|p| p.kind.has_frontend())
            .ok_or_else(|| ProxyError::Plan(format!("no frontend '{name}'")))?;
        // Without `default_backend` the frontend is its own backend, without servers
        // (HAProxy 2.6: `defbe.be = px`).
        let backend_name = if frontend.kind.has_backend() {
            frontend.name.clone()
        } else {
            frontend
                .settings
                .default_backend
                .clone()
                .unwrap_or_else(|| frontend.name.clone())
        };
        let backend = config
            .proxy(&backend_name)
            .ok_or_else(|| ProxyError::Plan(format!("no backend '{backend_name}'")))?;
        if frontend.settings.log_format.is_some() {
            return Err(ProxyError::Plan(format!(
                "{}:{}: 'log-format' is not supported by ha-compat's proxy engine yet",
                frontend.at.file, frontend.at.line
            )));
        }
        let frontend_limit = ConnLimit::new(frontend.settings.maxconn.or(config.global.maxconn));
        let mut terminators: Vec<Option<Arc<TlsTerminator>>> = vec![None; frontend.binds.len()];
        let mut warnings = Vec::new();
        for (index, bind) in frontend.binds.iter().enumerate() {
            if bind.options.ssl {
                let (terminator, bind_warnings) = TlsTerminator::from_bind(
                    bind,
                    &frontend.name,
                    &config.global,
                    frontend.settings.mode == Mode::Http,
                )?;
                terminators[index] = Some(Arc::new(terminator));
                warnings.extend(bind_warnings);
            }
        }
        let mut listeners = Vec::new();
        let mut tls = Vec::new();
        for plan in plan_listeners(frontend, config.global.maxconn)? {
            tls.push(terminators.get(plan.bind_index).cloned().flatten());
            let socket = open_listener(&plan)?;
            listeners.push(Listener::new(
                socket,
                plan,
                frontend_limit.clone(),
                process_limit.clone(),
            )?);
        }
        let logging = log_sender(config, &frontend.settings, clock)?.map(|sender| TrafficLogging {
            sender,
            tcplog: frontend.settings.options.tcplog,
            httplog: frontend.settings.options.httplog.is_some(),
            dontlognull: flag(frontend, "dontlognull"),
            dontlog_normal: flag(frontend, "dontlog-normal"),
            separate_errors: flag(frontend, "log-separate-errors"),
            clock,
        });
        let settings = session_settings(frontend, backend, pipe_limits(config));
        Ok(TcpFrontend {
            name: frontend.name.clone(),
            backend: backend_name,
            listeners,
            tls,
            warnings,
            settings,
            http: None,
            logging,
            frontend_limit,
            process_limit,
            counters: TrafficCounters::default(),
            sessions: None,
        })
    }

    /// The listening sockets a reload hands to the next process.
    pub fn handover(&self) -> Vec<(ListenKey, std::os::fd::BorrowedFd<'_>)> {
        self.listeners
            .iter()
            .filter_map(Listener::handover)
            .collect()
    }

    /// The addresses the listeners are bound to (in plan order).
    pub fn local_addrs(&self) -> Result<Vec<SocketAddr>, ProxyError> {
        self.listeners.iter().map(Listener::local_addr).collect()
    }
}

/// Accepts on every listener of `frontend` until `shutdown` resolves, each session on its
/// own task, each logged as HAProxy logs it. Sessions under way go on after shutdown.
pub async fn run_tcp_frontend(
    frontend: TcpFrontend,
    picker: SharedPicker,
    shutdown: impl Future<Output = ()>,
) {
    let frontend = Arc::new(frontend);
    let mut accept_tasks = tokio::task::JoinSet::new();
    for index in 0..frontend.listeners.len() {
        let frontend = Arc::clone(&frontend);
        let picker = picker.clone();
        accept_tasks.spawn(async move {
            let listener = &frontend.listeners[index];
            let tls = frontend.tls.get(index).cloned().flatten();
            loop {
                let accepted = match listener.accept().await {
                    Ok(a) => a,
                    Err(_) => {
                        // EMFILE and friends: HAProxy pauses the listener briefly too.
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let frontend = Arc::clone(&frontend);
                let picker = picker.clone();
                let tls = tls.clone();
                let registered = frontend.sessions.as_ref().map(|r| {
                    r.register(
                        crate::sessions::proto_of(&accepted.client),
                        accepted.client.to_string(),
                        &frontend.name,
                        None,
                    )
                });
                tokio::spawn(async move {
                    let session = serve(&frontend, picker, accepted, tls.as_deref());
                    match &registered {
                        Some(r) => crate::sessions::scoped(r, session).await,
                        None => session.await,
                    }
                });
            }
        });
    }
    shutdown.await;
    accept_tasks.abort_all();
}

/// The routing of `mode http` frontend `frontend`: its rules, then a route to each
/// `mode http` backend of `backends` (name, balancer), the default backend first.
/// `rules` holds every `mode http` proxy's compiled rules by name.
pub(crate) fn http_routing(
    config: &HaproxyConfig,
    frontend: &Proxy,
    default_backend: &str,
    backends: &[(String, SharedPicker)],
    rules: &HashMap<String, Arc<ProxyRules>>,
    pools: &HashMap<String, Arc<BackendPools>>,
) -> Result<HttpRouting, ProxyError> {
    let own = |name: &str| {
        rules
            .get(name)
            .cloned()
            .ok_or_else(|| ProxyError::Plan(format!("no rules compiled for '{name}'")))
    };
    let mut routes = Vec::new();
    let ordered = backends
        .iter()
        .filter(|(name, _)| name == default_backend)
        .chain(backends.iter().filter(|(name, _)| name != default_backend));
    for (name, picker) in ordered {
        let Some(backend) = config.proxy(name).filter(|b| {
            (b.kind.has_backend() || b.name == frontend.name) && b.settings.mode == Mode::Http
        }) else {
            continue;
        };
        let session = session_settings(frontend, backend, pipe_limits(config));
        let pools = pools
            .get(name)
            .cloned()
            .ok_or_else(|| ProxyError::Plan(format!("no server pools built for '{name}'")))?;
        routes.push(HttpRoute {
            settings: http_settings(config, frontend, backend, session, pools)?,
            picker: picker.clone(),
            hash: match &backend.settings.balance {
                Some(Balance::Uri { .. } | Balance::UrlParam { .. }) => RequestHash::Uri,
                Some(Balance::Hdr { name, .. }) => RequestHash::Header(name.clone()),
                _ => RequestHash::Nothing,
            },
            cookie: CookiePersistence::compile(backend)?.map(Arc::new),
            frontend_only: !backend.kind.has_backend(),
            backend: if backend.name == frontend.name {
                None
            } else {
                Some(own(&backend.name)?)
            },
        });
    }
    if routes.first().map(|r| r.settings.backend.as_str()) != Some(default_backend) {
        return Err(ProxyError::Plan(format!(
            "{}:{}: frontend '{}': its backend '{default_backend}' is not a 'mode http' backend",
            frontend.at.file, frontend.at.line, frontend.name
        )));
    }
    Ok(HttpRouting {
        frontend: own(&frontend.name)?,
        routes,
        traffic: None,
    })
}

/// The settings of `mode http` sessions from `frontend` to `backend`.
fn http_settings(
    config: &HaproxyConfig,
    frontend: &Proxy,
    backend: &Proxy,
    session: SessionSettings,
    pools: Arc<BackendPools>,
) -> Result<HttpSettings, ProxyError> {
    // The backend's option wins where HAProxy lets either side set it
    // (`http-server-close`/`httpclose` on either side apply).
    let mode_of = |p: &Proxy| p.settings.options.http_mode;
    let mode = match (mode_of(frontend), mode_of(backend)) {
        (Some(HttpConnectionMode::Close), _) | (_, Some(HttpConnectionMode::Close)) => {
            ConnectionMode::Close
        }
        (Some(HttpConnectionMode::ServerClose), _) | (_, Some(HttpConnectionMode::ServerClose)) => {
            ConnectionMode::ServerClose
        }
        _ => ConnectionMode::KeepAlive,
    };
    // `option forwardfor` is a backend option that a frontend may set too; the
    // backend's takes precedence.
    let forwardfor = match backend.settings.options.forwardfor.as_ref().or(frontend
        .settings
        .options
        .forwardfor
        .as_ref())
    {
        None => None,
        Some(ff) => Some(ForwardFor {
            header: ff.header.clone(),
            except: match &ff.except {
                None => None,
                Some(net) => Some(parse_network(net).ok_or_else(|| {
                    ProxyError::Plan(format!(
                        "{}:{}: 'option forwardfor except {net}': not a network ha-compat \
                         understands",
                        frontend.at.file, frontend.at.line
                    ))
                })?),
            },
            if_none: ff.if_none,
        }),
    };
    Ok(HttpSettings {
        session,
        mode,
        forwardfor,
        limits: HeadLimits::from_tune(&config.global.tune),
        // http_error_message(): the backend's pages, else the frontend's.
        errors: ErrorPages::from_proxy(config, backend)
            .over(ErrorPages::from_proxy(config, frontend)),
        request_timeout: frontend.settings.timeouts.http_request,
        keep_alive_timeout: frontend.settings.timeouts.http_keep_alive,
        frontend: frontend.name.clone(),
        backend: backend.name.clone(),
        pools,
        // The engine shares its own (`Engine::build`).
        stopping: crate::stopping::Stopping::default(),
    })
}

/// `ADDR[/BITS]` or `ADDR/MASK` as `option forwardfor except` takes it.
fn parse_network(text: &str) -> Option<(std::net::IpAddr, u8)> {
    let (addr, bits) = match text.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (text, None),
    };
    let ip: std::net::IpAddr = addr.parse().ok()?;
    let full = if ip.is_ipv4() { 32 } else { 128 };
    let bits = match bits {
        None => full,
        Some(b) => match b.parse::<u8>() {
            Ok(n) if n <= full => n,
            _ => {
                let mask: std::net::Ipv4Addr = b.parse().ok()?;
                let m = u32::from(mask);
                if m.leading_ones() + m.trailing_zeros() != 32 {
                    return None;
                }
                u8::try_from(m.leading_ones()).ok()?
            }
        },
    };
    Some((ip, bits))
}

/// The accepted connection as the session reads it: TLS once the handshake is done
/// on an `ssl` listener (`None` after a failed handshake, logged as HAProxy's
/// `session_kill_embryonic()` logs it).
async fn client_stream(
    frontend: &TcpFrontend,
    tls: Option<&TlsTerminator>,
    stream: tokio::net::TcpStream,
    client: SocketAddr,
    listener: &str,
    accepted_at: SystemTime,
) -> Option<ClientStream> {
    let Some(tls) = tls else {
        return Some(ClientStream::Plain(stream));
    };
    let error: HandshakeError = match tls
        .handshake(stream, frontend.settings.timeouts.client)
        .await
    {
        Ok(stream) => return Some(stream),
        Err(e) => e,
    };
    if let Some(logging) = frontend.logging.as_ref() {
        // Only frontends with a log format (tcplog, httplog) log embryonic sessions.
        if logging.tcplog || logging.httplog {
            log_embryonic(
                frontend,
                logging,
                client,
                accepted_at,
                listener,
                &error,
                error.is_null(),
            );
        }
    }
    None
}

/// `session_kill_embryonic()`'s line: `IP:PORT [DATE] FRONTEND/LISTENER: REASON`, at
/// `err` level with `option log-separate-errors`; `option dontlognull` drops it when
/// nothing came from the client (`null`).
fn log_embryonic(
    frontend: &TcpFrontend,
    logging: &TrafficLogging,
    client: SocketAddr,
    accepted_at: SystemTime,
    listener: &str,
    reason: &dyn std::fmt::Display,
    null: bool,
) {
    if logging.dontlognull && null {
        return;
    }
    let level = if logging.separate_errors {
        LEVEL_ERR
    } else {
        LEVEL_INFO
    };
    logging.send_at(
        level,
        &format!(
            "{}:{} [{}] {}/{}: {}",
            client.ip(),
            client.port(),
            logging.clock.accept_date(accepted_at),
            frontend.name,
            listener,
            reason
        ),
    );
}

async fn serve(
    frontend: &TcpFrontend,
    mut picker: SharedPicker,
    accepted: crate::listener::Accepted,
    tls: Option<&TlsTerminator>,
) {
    let crate::listener::Accepted {
        stream,
        client,
        local,
        accept_proxy,
        listener,
        slots,
    } = accepted;
    let accepted_at = SystemTime::now();
    let accepted_instant = Instant::now();
    let Some(stream) = client_stream(frontend, tls, stream, client, &listener, accepted_at).await
    else {
        return;
    };
    let connection = ClientConnection {
        stream,
        client,
        local,
        accept_proxy,
        accepted_at,
        accepted: accepted_instant,
    };
    if let Some(http) = &frontend.http {
        return serve_http(frontend, http, connection, slots).await;
    }
    if let Some(logging) = frontend.logging.as_ref().filter(|l| !l.tcplog) {
        logging.send(&format!(
            "Connect from {}:{} to {}:{} ({}/TCP)",
            client.ip(),
            client.port(),
            local.ip(),
            local.port(),
            frontend.name
        ));
    }
    let tls_client = connection.stream.is_tls();
    picker.enter_backend();
    let record = run_session(connection, frontend.settings, &mut picker).await;
    picker.leave_backend();
    if record.embryonic.is_none() {
        let (backend, server) = picker.counts(record.server.as_deref());
        frontend.counters.tcp_session(
            &frontend.name,
            &tcplog_record(frontend, &record, backend, server),
        );
    }
    if let (Some(error), Some(logging)) = (record.embryonic, frontend.logging.as_ref()) {
        // session_kill_embryonic(): only frontends with a log format (tcplog) log these.
        if logging.tcplog {
            log_embryonic(
                frontend,
                logging,
                client,
                record.accepted_at,
                &listener,
                &error,
                error.is_null(),
            );
        }
    } else if let Some(logging) = frontend.logging.as_ref().filter(|l| l.tcplog) {
        let (backend, server) = picker.counts(record.server.as_deref());
        let mut line = tcplog_record(frontend, &record, backend, server);
        if tls_client {
            // `%ft` marks a TLS client with `~`.
            line.frontend.push('~');
        }
        let error = is_error_session(&line);
        let dropped =
            (logging.dontlognull && is_null_session(&line)) || (logging.dontlog_normal && !error);
        if !dropped {
            let level = if error && logging.separate_errors {
                LEVEL_ERR
            } else {
                LEVEL_INFO
            };
            logging.send_at(level, &format_tcplog(&line, logging.clock));
        }
    }
    drop(slots);
}

async fn serve_http(
    frontend: &TcpFrontend,
    http: &HttpRouting,
    connection: ClientConnection,
    slots: crate::listener::ConnSlots,
) {
    let (client, local) = (connection.client, connection.local);
    // `%ft`: the frontend's name, with `~` after it when the client speaks TLS.
    let tls = connection.stream.is_tls();
    let logging = frontend.logging.as_ref();
    let mut log = |mut record: HttpLogRecord| {
        frontend.counters.http_request(&frontend.name, &record);
        let Some(logging) = logging else {
            return;
        };
        if tls {
            record.frontend.push('~');
        }
        record.counters.process = frontend.process_limit.current();
        record.counters.frontend = frontend.frontend_limit.current();
        if (logging.dontlognull && record.null) || record.unlogged {
            return;
        }
        // strm_log(): as in TCP mode, or a 5xx status.
        let error = is_error_request(&record);
        if logging.dontlog_normal && !error {
            return;
        }
        let level = if error && logging.separate_errors {
            LEVEL_ERR
        } else {
            LEVEL_INFO
        };
        let line = if logging.httplog {
            format_httplog(&record, logging.clock)
        } else if logging.tcplog {
            format_tcplog(&http_as_tcplog(&record), logging.clock)
        } else {
            return;
        };
        logging.send_at(level, &line);
    };
    if let Some(logging) = logging.filter(|l| !l.tcplog && !l.httplog) {
        logging.send(&format!(
            "Connect from {}:{} to {}:{} ({}/HTTP)",
            client.ip(),
            client.port(),
            local.ip(),
            local.port(),
            frontend.name
        ));
    }
    run_http_connection(connection, http, &mut log).await;
    drop(slots);
}

/// An `option tcplog` line for an HTTP request (a `mode http` frontend with tcplog).
fn http_as_tcplog(record: &HttpLogRecord) -> TcpLogRecord {
    TcpLogRecord {
        client: record.client,
        accepted_at: record.request_at,
        frontend: record.frontend.clone(),
        backend: record.backend.clone(),
        server: record.server.clone(),
        queue_ms: record.queue_ms,
        connect_ms: record.connect_ms,
        total_ms: record.active_ms,
        bytes_to_client: record.bytes_to_client,
        bytes_from_client: u64::from(!record.null),
        termination: record.termination,
        counters: record.counters,
    }
}

fn tcplog_record(
    frontend: &TcpFrontend,
    record: &SessionRecord,
    backend: u32,
    server: u32,
) -> TcpLogRecord {
    TcpLogRecord {
        client: record.client,
        accepted_at: record.accepted_at,
        frontend: frontend.name.clone(),
        backend: frontend.backend.clone(),
        server: record.server.clone(),
        queue_ms: record.queue_ms,
        connect_ms: record.connect_ms,
        total_ms: record.total_ms,
        bytes_to_client: record.bytes_to_client,
        bytes_from_client: record.bytes_from_client,
        termination: record.termination,
        counters: LogCounters {
            process: frontend.process_limit.current(),
            frontend: frontend.frontend_limit.current(),
            backend,
            server,
            retries: record.retries,
            redispatched: record.redispatched,
            server_queue: record.queue_position.server_queue,
            backend_queue: record.queue_position.backend_queue,
        },
    }
}

#[cfg(test)]
mod tests {

    /// `option redispatch [N]` as cfgparse-listen.c stores it in `redispatch_after`.
    #[test]
    fn redispatch_interval_is_read_as_haproxy_does() {
        let be = |opt: &str| {
            crate::balance::tests::backend(&format!(
                "backend be\n  {opt}\n  server a 127.0.0.1:1\n"
            ))
        };
        assert_eq!(
            redispatch(&be("option redispatch")),
            Redispatch::BeforeEnd(1)
        );
        assert_eq!(redispatch(&be("option redispatch 2")), Redispatch::Every(2));
        assert_eq!(
            redispatch(&be("option redispatch -2")),
            Redispatch::BeforeEnd(2)
        );
        assert_eq!(redispatch(&be("option redispatch 0")), Redispatch::Every(0));
        assert_eq!(redispatch(&be("option redispatch x")), Redispatch::Every(0));
        assert_eq!(redispatch(&be("no option redispatch")), Redispatch::Off);
        assert_eq!(redispatch(&be("retries 3")), Redispatch::Off);
    }

    use super::*;

    fn config(text: &str) -> HaproxyConfig {
        crate::balance::tests::load_config(text)
    }

    fn of(text: &str, frontend: &str, backend: &str) -> Splicing {
        let c = config(text);
        let fe = c.proxy(frontend).expect("frontend");
        let be = c.proxy(backend).expect("backend");
        session_settings(fe, be, pipe_limits(&c)).splice
    }

    const BASE: &str =
        "defaults\n  mode tcp\n  timeout connect 1s\n  timeout client 1s\n  timeout server 1s\n";

    #[test]
    fn splice_options_of_frontend_or_backend_apply_as_in_stream_c() {
        use SplicePolicy::{Always, Auto, Never};
        let cfg = format!(
            "{BASE}frontend plain\n  bind :8001\n  default_backend b\n\
             frontend req\n  bind :8002\n  option splice-request\n  default_backend auto\n\
             backend b\n  server s 127.0.0.1:1\n\
             backend auto\n  option splice-auto\n  option splice-response\n  server s 127.0.0.1:1\n"
        );
        let split = |request, response| Splicing {
            request,
            response,
            pipes: PipeLimits::default(),
        };
        assert_eq!(of(&cfg, "plain", "b"), split(Never, Never));
        // Either side's option counts; request/response win over auto.
        assert_eq!(of(&cfg, "req", "auto"), split(Always, Always));
        assert_eq!(of(&cfg, "plain", "auto"), split(Auto, Always));
        // From defaults, undone by `no option` on one proxy only.
        let cfg = format!(
            "{}  option splice-auto\nfrontend f\n  bind :8001\n  default_backend b\n\
             backend b\n  server s 127.0.0.1:1\n\
             backend off\n  no option splice-auto\n  server s 127.0.0.1:1\n",
            BASE
        );
        assert_eq!(of(&cfg, "f", "b"), split(Auto, Auto));
        assert_eq!(of(&cfg, "f", "off"), split(Auto, Auto));
        // `global nosplice` turns every option off.
        let cfg = format!(
            "global\n  nosplice\n{BASE}  option splice-request\n\
             frontend f\n  bind :8001\n  default_backend b\nbackend b\n  server s 127.0.0.1:1\n"
        );
        assert_eq!(of(&cfg, "f", "b"), split(Never, Never));
    }

    #[test]
    fn a_frontend_without_default_backend_is_run_not_refused() {
        // HAProxy 2.6 runs it as its own backend without servers (compared with 2.6.12
        // in ha-compat's `frontend_without_backend_reference.rs`).
        let cfg = config(&format!(
            "{BASE}frontend t\n  bind :8001\n\
             frontend promex\n  bind :8405\n  mode http\n\
               http-request use-service prometheus-exporter if {{ path /metrics }}\n"
        ));
        assert_eq!(crate::engine::refusals(&cfg), Vec::<String>::new());
    }

    #[test]
    fn pipe_limits_follow_maxpipes_maxconn_and_pipesize() {
        let limits = |global: &str| pipe_limits(&config(&format!("global\n{global}{BASE}")));
        assert_eq!(limits(""), Some(PipeLimits::default()));
        assert_eq!(
            limits("  maxconn 4000\n  tune.pipesize 262144\n"),
            Some(PipeLimits {
                max_pipes: Some(1000),
                pipe_size: Some(262_144),
            })
        );
        assert_eq!(
            limits("  maxconn 4000\n  maxpipes 7\n"),
            Some(PipeLimits {
                max_pipes: Some(7),
                pipe_size: None,
            })
        );
        assert_eq!(limits("  nosplice\n  maxpipes 7\n"), None);
    }
}
