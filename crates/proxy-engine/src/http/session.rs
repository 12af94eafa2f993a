//! One `mode http` client connection: requests read one after another, each sent to a
//! server (or answered by the proxy) and its response forwarded, one `httplog` record per
//! request. The thin runtime around the pure parts of [`h1`](crate::http::h1).
//!
//! HAProxy 2.6 behaviour reproduced (measured on haproxy 2.6.12, see the tests):
//! - A request HAProxy cannot parse gets the raw built-in 400 and the connection closes;
//!   no complete request within `timeout http-request` (else `timeout client`) gets the
//!   raw 408; an idle keep-alive connection that times out (`timeout http-keep-alive`)
//!   closes silently.
//! - The `close` and `keep-alive` tokens of `Connection` are taken out of both messages;
//!   HAProxy then writes its own: to the server `connection: close` on HTTP/1.1 requests
//!   with `http-server-close`/`httpclose`; to the client `connection: close` when it will
//!   close after a 1.1 response, `connection: keep-alive` when it keeps a 1.0 exchange open.
//! - `option forwardfor` appends its own `x-forwarded-for` line (after the client's).
//! - No server: the 503 page; connect failures after the retries: 503; the server
//!   closing or answering garbage before a response head: 502; `timeout server` before
//!   it: 504 (through the proxy's `errorfile`s).
//! - Chunked bodies are re-chunked as HAProxy's multiplexer writes them.
//! - `101 Switching Protocols` turns the connection into a tunnel (`timeout tunnel`).
//! - Rules run per proxy as `http_process_req_common()` runs them (frontend, then the
//!   backend `use_backend` picked): `http-request`, the stats page, `redirect`. A local
//!   answer keeps the connection when the request was whole and closes it when its body
//!   was still coming. `%B` of a forwarded response counts its head as the server sent
//!   it, before the `http-response` rules.
//!
//! Server connections (`option http-keep-alive`, the default): a response that leaves
//! the server connection open gives it back to its server's pool
//! ([`BackendPools`], the rules in [`pool`](crate::http::pool)), shared by every client
//! connection; under `http-reuse never`, or once an NTLM/Negotiate `401`/`407` went
//! over it, it stays with its client connection instead (up to 10, HAProxy's private
//! session connections) and closes with it. The balancer
//! still picks a server per request; the request then goes over an idle connection to
//! that server when the rules allow, else over a new one. A pooled connection the
//! server closed meanwhile is seen (its socket readable) and closed, as HAProxy's idle
//! polling does. A client's later request whose server connection fails before a
//! response head closes the client connection silently, unlogged (HAProxy's
//! `abort_keep_alive`: the client is expected to retry).

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::balance::QueuePosition;
use crate::client_stream::ClientStream;
use crate::http::cookie::{
    scan_request_cookies, scan_set_cookies, CookieCapture, CookiePersistence, RequestCookie,
};
use crate::http::errors::{ErrorPage, ErrorPages};
use crate::http::h1::{
    self, encode_chunk, encode_last_chunk, BodyFraming, Dechunker, H1Error, HeadLimits,
};
use crate::http::head::{
    serialize_request, serialize_response, ConnectionInfo, HttpVersion, RequestHead, ResponseHead,
};
use crate::http::pool::{Eligibility, PoolLimits, ReuseMode, ServerPool};
use crate::http::rules::{CompiledRules, Reply, ResponseVerdict, StatsVerdict, Verdict};
use crate::tcp_frontend::SharedPicker;
use crate::tcp_session::{
    connect_with_retries, ms, state, ClientConnection, IdleConnections, Pump, RequestHint,
    ServerPicker, ServerTarget, SessionRecord, SessionSettings,
};
use crate::traffic_log::{
    HttpLogRecord, LogCounters, TerminationCause, TerminationPhase, TerminationState,
};

/// How connections are kept (`option http-keep-alive` (default), `http-server-close`,
/// `httpclose`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionMode {
    KeepAlive,
    ServerClose,
    Close,
}

/// `option forwardfor [except NET] [header NAME] [if-none]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardFor {
    pub header: String,
    /// Clients in this network get no header.
    pub except: Option<(IpAddr, u8)>,
    /// Only when the request has no such header yet.
    pub if_none: bool,
}

impl ForwardFor {
    fn applies_to(&self, client: IpAddr) -> bool {
        match self.except {
            Some((net, bits)) => !in_network(client, net, bits),
            None => true,
        }
    }
}

/// Whether `ip` is inside `net/bits` (an IPv4 network never contains an IPv6 client).
pub fn in_network(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let bits = u32::from(bits.min(32));
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let bits = u32::from(bits.min(128));
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// Where the stats page's counters come from, and what its admin form acts on (the
/// engine).
pub trait StatsSource: Send + Sync + std::fmt::Debug {
    fn snapshot(&self) -> crate::http::stats::StatsSnapshot;
    /// `proxy_be_by_name()`: `#ID` or a name, of a proxy with a backend.
    fn admin_backend(&self, name: &str) -> Option<usize>;
    /// An admin action on a server: `None` for no such server, else whether it was
    /// altered (see [`crate::admin::apply`]).
    fn admin_apply(
        &self,
        backend: usize,
        server: &str,
        action: crate::admin::AdminAction,
        reason: &'static str,
    ) -> Option<bool>;
}

/// The stats source as the pure POST processor wants it.
struct AdminOn<'a>(&'a dyn StatsSource);

impl crate::http::stats::AdminTarget for AdminOn<'_> {
    fn backend(&mut self, name: &str) -> Option<usize> {
        self.0.admin_backend(name)
    }

    fn apply(
        &mut self,
        backend: usize,
        server: &str,
        action: crate::admin::AdminAction,
    ) -> Option<bool> {
        self.0
            .admin_apply(backend, server, action, crate::admin::WEB_INTERFACE)
    }
}

/// Text appended to the Prometheus exporter's page (e.g. the VRRP metrics), asked
/// for on each request.
pub type ExtraMetrics = std::sync::Arc<dyn Fn() -> String + Send + Sync>;

/// What `use-service prometheus-exporter` reads: the engine's counters, and the
/// optional extra metrics (set once, possibly after the engine is built).
#[derive(Clone)]
pub struct PromexSource {
    pub stats: std::sync::Arc<dyn StatsSource>,
    pub extra: std::sync::Arc<std::sync::OnceLock<ExtraMetrics>>,
}

impl std::fmt::Debug for PromexSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromexSource")
            .field("stats", &self.stats)
            .field("extra", &self.extra.get().is_some())
            .finish()
    }
}

/// The backend's stats page: its settings, the engine's counters, and its compiled
/// `stats admin` conditions.
#[derive(Debug, Clone)]
pub struct StatsPage {
    pub settings: haproxy_conf::model::Stats,
    pub source: std::sync::Arc<dyn StatsSource>,
    pub admin: Vec<crate::http::acl::Condition>,
}

/// One proxy's part of the request processing (`http_process_req_common()`): its
/// `http-request` rules, then its stats page, then its `redirect` rules; and its
/// `http-response` rules on the way back.
#[derive(Debug)]
pub struct ProxyRules {
    pub name: String,
    pub rules: CompiledRules,
    /// `stats enable` (or `stats uri`/`auth`): requests for the page are answered by the
    /// proxy itself.
    pub stats: Option<StatsPage>,
    /// The pages of the answers its rules give (`deny`, `auth`).
    pub errors: ErrorPages,
    /// `monitor-uri` (a frontend's): answered 200 before any rule, never logged.
    pub monitor_uri: Option<String>,
    /// `capture request/response header` (a frontend's).
    pub captures: HeaderCaptures,
    /// What `use-service prometheus-exporter` answers from.
    pub promex: PromexSource,
}

/// A frontend's `capture request header NAME len N` and `capture response header …`
/// lines, in configuration order (the order `%hr`/`%hs` print them), and its `capture
/// cookie` (the last line of it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderCaptures {
    pub request: Vec<(String, usize)>,
    pub response: Vec<(String, usize)>,
    pub cookie: Option<CookieCapture>,
}

impl HeaderCaptures {
    /// `http_capture_headers()`: per capture, the last occurrence of its header, cut
    /// to its length.
    fn take(
        wanted: &[(String, usize)],
        headers: &crate::http::head::Headers,
    ) -> Vec<Option<String>> {
        wanted
            .iter()
            .map(|(name, len)| {
                headers
                    .0
                    .iter()
                    .rev()
                    .find(|h| h.name.eq_ignore_ascii_case(name))
                    .map(|h| {
                        let bytes = h.value.as_bytes();
                        String::from_utf8_lossy(&bytes[..bytes.len().min(*len)]).into_owned()
                    })
            })
            .collect()
    }
}

impl ProxyRules {
    /// Whether `head` asks for the monitor URI: its path when the URI set starts with
    /// `/`, else the whole URI (`http_wait_for_request()`).
    fn is_monitor_request(&self, head: &RequestHead) -> bool {
        let Some(uri) = self.monitor_uri.as_deref() else {
            return false;
        };
        head.uri == uri
            || (uri.starts_with('/') && crate::http::stats::path_with_query(&head.uri) == uri)
    }
}

/// The `http-after-response` rules every answer to a request goes through, HAProxy's
/// own included: the backend's, then the frontend's when it is another proxy
/// (`http_eval_after_res_rules()`, with `s->be` the frontend itself until a backend is
/// chosen).
#[derive(Debug, Clone, Copy)]
struct AfterResponse<'a> {
    backend: Option<&'a ProxyRules>,
    frontend: &'a ProxyRules,
    info: ConnectionInfo,
}

impl AfterResponse<'_> {
    fn is_empty(&self) -> bool {
        self.proxies().all(|p| !p.rules.has_after_response_rules())
    }

    fn proxies(&self) -> impl Iterator<Item = &ProxyRules> {
        self.backend
            .into_iter()
            .chain(std::iter::once(self.frontend))
    }

    /// Runs the rules on `head`; `false` when a rewrite failed.
    fn apply(&self, request: &RequestHead, head: &mut ResponseHead) -> bool {
        self.proxies().all(|proxy| {
            proxy.rules.on_after_response(request, &self.info, head)
                != ResponseVerdict::InternalError
        })
    }
}

/// An answer's `http-after-response` rules and the request they read.
#[derive(Clone, Copy)]
struct AfterRules<'a> {
    rules: &'a AfterResponse<'a>,
    request: &'a RequestHead,
}

impl<'a> AfterRules<'a> {
    fn new(rules: &'a AfterResponse<'a>, request: Option<&'a RequestHead>) -> Option<Self> {
        if rules.is_empty() {
            return None;
        }
        Some(AfterRules {
            rules,
            request: request?,
        })
    }

    /// A page HAProxy answers with, through the rules (`http_forward_proxy_resp()`); a
    /// failed rewrite answers the frontend's 500 instead, without rules.
    fn page(&self, page: Option<ErrorPage>) -> Option<ErrorPage> {
        let mut page = page?;
        if self.rules.apply(self.request, &mut page.head) {
            Some(page)
        } else {
            self.rules.frontend.errors.page(500)
        }
    }
}

/// A backend a frontend's requests can go to, with the settings of that pair.
#[derive(Debug, Clone)]
pub struct HttpRoute {
    pub settings: HttpSettings,
    pub picker: SharedPicker,
    /// The backend's own rules; `None` when the backend is the frontend itself (a
    /// `listen` section's own backend: its rules run once).
    pub backend: Option<Arc<ProxyRules>>,
    /// What of the request the backend's `balance` hashes on.
    pub hash: RequestHash,
    /// The backend's `cookie … insert` persistence.
    pub cookie: Option<Arc<CookiePersistence>>,
}

/// What of a request a backend's `balance` hashes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestHash {
    Nothing,
    /// `balance uri`, `balance url_param`.
    Uri,
    /// `balance hdr(name)`.
    Header(String),
}

impl RequestHash {
    /// The request's hashed parts, as the rules left it (`get_server_hh()` takes the
    /// first comma-separated value of the first occurrence).
    fn hint(&self, head: &RequestHead) -> Option<RequestHint> {
        match self {
            RequestHash::Nothing => None,
            RequestHash::Uri => Some(RequestHint {
                uri: Some(head.uri.as_bytes().to_vec()),
                ..RequestHint::default()
            }),
            RequestHash::Header(name) => Some(RequestHint {
                uri: None,
                server: None,
                header: head.headers.first(name).map(|v| {
                    v.split(',')
                        .next()
                        .unwrap_or("")
                        .trim_matches([' ', '\t'])
                        .as_bytes()
                        .to_vec()
                }),
            }),
        }
    }
}

/// Where a frontend's requests go: its rules, then a route (`use_backend`, else the
/// default backend, which is `routes[0]`).
#[derive(Debug, Clone)]
pub struct HttpRouting {
    pub frontend: Arc<ProxyRules>,
    pub routes: Vec<HttpRoute>,
    /// The frontend's stats counters, for the requests counted as their head arrives.
    pub traffic: Option<Arc<crate::counters::ProxyTraffic>>,
}

impl HttpRouting {
    fn default_route(&self) -> &HttpRoute {
        // `routes` is never empty: the engine builds the default route first (see
        // `Engine::build`); an empty routing is a construction bug, not bad input.
        &self.routes[0]
    }

    fn route(&self, backend: Option<&str>) -> &HttpRoute {
        backend
            .and_then(|name| self.routes.iter().find(|r| r.settings.backend == name))
            .unwrap_or_else(|| self.default_route())
    }
}

/// Everything an HTTP session runs with.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub session: SessionSettings,
    pub mode: ConnectionMode,
    pub forwardfor: Option<ForwardFor>,
    pub limits: HeadLimits,
    pub errors: ErrorPages,
    /// `timeout http-request` (else `timeout client`).
    pub request_timeout: Option<Duration>,
    /// `timeout http-keep-alive` (else the request timeout).
    pub keep_alive_timeout: Option<Duration>,
    pub frontend: String,
    pub backend: String,
    /// The backend's idle server connections.
    pub pools: Arc<BackendPools>,
    /// Set at a soft stop: connections are no longer kept alive.
    pub stopping: crate::stopping::Stopping,
}

impl HttpSettings {
    fn request_timeout(&self) -> Option<Duration> {
        self.request_timeout.or(self.session.timeouts.client)
    }

    fn keep_alive_timeout(&self) -> Option<Duration> {
        self.keep_alive_timeout.or_else(|| self.request_timeout())
    }
}

const READ_CHUNK: usize = 16 * 1024;

fn deadline_after(from: Instant, timeout: Option<Duration>) -> Option<tokio::time::Instant> {
    timeout.map(|t| tokio::time::Instant::from_std(from + t))
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Writes everything, within `timeout` (`Err` on error or timeout: `true` for timeout).
async fn write_all<S: tokio::io::AsyncWrite + Unpin>(
    stream: &mut S,
    bytes: &[u8],
    timeout: Option<Duration>,
) -> Result<(), bool> {
    if bytes.is_empty() {
        return Ok(());
    }
    match timeout {
        Some(t) => match tokio::time::timeout(t, stream.write_all(bytes)).await {
            Ok(r) => r.map_err(|_| false),
            Err(_) => Err(true),
        },
        None => stream.write_all(bytes).await.map_err(|_| false),
    }
}

/// How waiting for a request head ended.
enum HeadWait {
    Head(RequestHead, usize),
    /// Closed (or reset) by the client; `true` if part of a request had arrived.
    Closed(bool),
    /// The request timer expired; `true` if part of a request had arrived.
    Timeout(bool),
    Invalid(H1Error),
}

/// The client side: its socket and the bytes read but not yet used.
struct Client {
    stream: ClientStream,
    buf: Vec<u8>,
    /// Server connections this client's earlier requests left open (keep-alive),
    /// by backend and server (a server of another backend at the same address is
    /// another server), oldest first: HAProxy's session-owned idle connections
    /// (`max-session-srv-conns`, 10).
    kept: Vec<(ServerKey, Option<TcpStream>)>,
    /// A request was processed on this connection before (HAProxy's `TX_NOT_FIRST`).
    not_first: bool,
    /// A server answered with NTLM/Negotiate authentication (`SESS_FL_PREFER_LAST`):
    /// later requests go to the server of a kept connection when the balancing allows.
    prefer_last: bool,
}

/// `max-session-srv-conns`' default.
const MAX_KEPT: usize = 10;

/// A backend's idle server connections, one [`ServerPool`] per server, shared by every
/// client connection; and the purge timer (a task started with the first connection
/// pooled, ended when the pools go).
#[derive(Debug)]
pub struct BackendPools {
    pub mode: ReuseMode,
    /// The balancing does not hash (`BE_LB_KIND_HI`): a session gone private keeps to
    /// its server.
    pub prefer_last: bool,
    /// `retry-on` makes every request eligible for idle connections.
    pub retry_safe: bool,
    servers: Vec<PooledServer>,
    wake: Arc<tokio::sync::Notify>,
    purging: AtomicBool,
}

/// What a request must share with a pooled connection to take it: for a `send-proxy`
/// server the PROXY line's addresses (the client's and the one it reached), part of
/// HAProxy's connection hash; nothing otherwise.
type PoolKey = Option<(SocketAddr, SocketAddr)>;

/// One server's pool.
#[derive(Debug)]
struct PooledServer {
    name: String,
    send_proxy: bool,
    pool: Mutex<ServerPool<PoolKey, TcpStream>>,
    /// Connection attempts (the stats page's `connect`).
    connects: AtomicU64,
    /// Requests sent over an idle connection (`reuse`).
    reuses: AtomicU64,
}

/// A server's pool as the stats page shows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    pub connect: u64,
    pub reuse: u64,
    pub idle_conn_cur: u32,
    pub safe_conn_cur: u32,
    pub used_conn_cur: u32,
    pub need_conn_est: u32,
}

/// A server of a backend, as its pool needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolServer {
    pub name: String,
    pub limits: PoolLimits,
    /// `send-proxy[-v2]`: its connections carry their client's addresses.
    pub send_proxy: bool,
}

impl BackendPools {
    pub fn new(
        mode: ReuseMode,
        retry_safe: bool,
        prefer_last: bool,
        servers: Vec<PoolServer>,
    ) -> Arc<BackendPools> {
        Arc::new(BackendPools {
            mode,
            prefer_last,
            retry_safe,
            servers: servers
                .into_iter()
                .map(|s| PooledServer {
                    name: s.name,
                    send_proxy: s.send_proxy,
                    pool: Mutex::new(ServerPool::new(s.limits)),
                    connects: AtomicU64::new(0),
                    reuses: AtomicU64::new(0),
                })
                .collect(),
            wake: Arc::new(tokio::sync::Notify::new()),
            purging: AtomicBool::new(false),
        })
    }

    fn server(&self, name: &str) -> Option<&PooledServer> {
        self.servers.iter().find(|s| s.name == name)
    }

    fn pool(
        &self,
        server: &str,
    ) -> Option<std::sync::MutexGuard<'_, ServerPool<PoolKey, TcpStream>>> {
        // A panic while holding the lock leaves counts, never broken sockets.
        self.server(server)
            .map(|s| s.pool.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn key(&self, server: &str, addresses: (SocketAddr, SocketAddr)) -> PoolKey {
        self.server(server)
            .is_some_and(|s| s.send_proxy)
            .then_some(addresses)
    }

    /// An idle connection to `server` for a request from `addresses` (client, local),
    /// if the rules give one.
    fn take(
        &self,
        server: &str,
        request: Eligibility,
        addresses: (SocketAddr, SocketAddr),
    ) -> Option<TcpStream> {
        let key = self.key(server, addresses);
        let mut dead = Vec::new();
        let taken = self
            .pool(server)?
            .take(self.mode, request, &key, is_alive, &mut dead);
        drop(dead);
        taken
    }

    /// `server`'s `pool-*` settings.
    pub fn limits(&self, server: &str) -> Option<PoolLimits> {
        self.pool(server).map(|p| p.limits())
    }

    /// The stats of `server`'s pool.
    pub fn stats(&self, server: &str) -> Option<PoolStats> {
        let entry = self.server(server)?;
        let [idle, safe, used, need] = self.pool(server).map(|p| p.gauges()).unwrap_or_default();
        let gauge = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Some(PoolStats {
            connect: entry.connects.load(Ordering::Relaxed),
            reuse: entry.reuses.load(Ordering::Relaxed),
            idle_conn_cur: gauge(idle),
            safe_conn_cur: gauge(safe),
            used_conn_cur: gauge(used),
            need_conn_est: gauge(need),
        })
    }

    /// connect_server() ran `attempts` times for `server`, the last over an idle
    /// connection when `reused`.
    fn count_attempts(&self, server: &str, attempts: u32, reused: bool) {
        if let Some(entry) = self.server(server) {
            let connects = u64::from(attempts.saturating_sub(u32::from(reused)));
            entry.connects.fetch_add(connects, Ordering::Relaxed);
            entry.reuses.fetch_add(u64::from(reused), Ordering::Relaxed);
        }
    }

    /// A new connection to `server` is in use (`conn_new()`); a private one
    /// (`http-reuse never`) leaves the server's count at once (`conn_set_private()`),
    /// having still raised its maxima.
    fn opened(&self, server: &str, private: bool) {
        if let Some(mut pool) = self.pool(server) {
            pool.opened();
            if private {
                pool.closed();
            }
        }
    }

    /// A connection to `server` in use is closed, has become a tunnel or private.
    fn closed(&self, server: &str) {
        if let Some(mut pool) = self.pool(server) {
            pool.closed();
        }
    }

    /// A connection whose exchange left it open comes back; closed if not kept.
    fn put(
        self: &Arc<Self>,
        server: &str,
        addresses: (SocketAddr, SocketAddr),
        stream: TcpStream,
        served_before: bool,
    ) {
        let key = self.key(server, addresses);
        let Some(mut pool) = self.pool(server) else {
            return;
        };
        let armed = pool.purge_at().is_some();
        let refused = pool.put(key, stream, served_before, Instant::now()).err();
        let now_armed = pool.purge_at().is_some();
        drop(pool);
        drop(refused);
        if !armed && now_armed {
            if !self.purging.swap(true, Ordering::SeqCst) {
                tokio::spawn(purge_loop(Arc::downgrade(self), Arc::clone(&self.wake)));
            }
            self.wake.notify_one();
        }
    }
}

impl Drop for BackendPools {
    fn drop(&mut self) {
        // Ends the purge task.
        self.wake.notify_one();
    }
}

/// Runs every server's purge when its time comes, until the pools go.
async fn purge_loop(pools: Weak<BackendPools>, wake: Arc<tokio::sync::Notify>) {
    loop {
        let next = {
            let Some(pools) = pools.upgrade() else {
                return;
            };
            let now = Instant::now();
            let mut closing = Vec::new();
            let mut next: Option<Instant> = None;
            for server in &pools.servers {
                if let Some(mut pool) = pools.pool(&server.name) {
                    closing.extend(pool.purge(now));
                    next = match (next, pool.purge_at()) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
            }
            drop(closing);
            next
        };
        match next {
            Some(at) => {
                tokio::select! {
                    () = tokio::time::sleep_until(tokio::time::Instant::from_std(at)) => {}
                    () = wake.notified() => {}
                }
            }
            None => wake.notified().await,
        }
    }
}

/// Whether a pooled connection is still usable: nothing to read (a close or stray
/// bytes from the server make it unusable, as HAProxy's idle connection handler
/// decides). Only tokio's readiness is consulted before any system call.
fn is_alive(stream: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(stream.try_read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

/// A server as HAProxy tells them apart: its backend's name and its own.
type ServerKey = (String, String);

/// Takes the client connection's own idle connection to `backend`/`server`, unless the
/// server closed it meanwhile (then it is closed: HAProxy's idle polling would have).
/// The slot stays, so keeping the next connection to that server allocates nothing.
fn take_kept(
    kept: &mut [(ServerKey, Option<TcpStream>)],
    backend: &str,
    server: &str,
) -> Option<TcpStream> {
    kept.iter_mut()
        .find(|((b, s), _)| b == backend && s == server)
        .and_then(|(_, stream)| stream.take())
        .filter(is_alive)
}

/// `session_check_idle_conn()`: a private connection stays with its client connection
/// unless 10 idle ones already do (then it closes).
fn keep_server(
    kept: &mut Vec<(ServerKey, Option<TcpStream>)>,
    backend: &str,
    server: &str,
    stream: TcpStream,
) {
    if kept.iter().filter(|(_, s)| s.is_some()).count() >= MAX_KEPT {
        return;
    }
    if let Some((_, slot)) = kept
        .iter_mut()
        .find(|((b, s), _)| b == backend && s == server)
    {
        *slot = Some(stream);
        return;
    }
    kept.push(((backend.to_string(), server.to_string()), Some(stream)));
}

impl Client {
    /// Waits for a whole request head. `idle` limits the wait for the first byte,
    /// `request` the wait for the whole head from its first byte (or from the start when
    /// `request_from_start`).
    async fn read_head(
        &mut self,
        limits: HeadLimits,
        idle: Option<tokio::time::Instant>,
        request: Option<Duration>,
        first_byte: &mut Option<Instant>,
    ) -> HeadWait {
        loop {
            if !self.buf.is_empty() {
                first_byte.get_or_insert_with(Instant::now);
                match h1::parse_request(&self.buf, limits) {
                    Ok(Some((head, used))) => return HeadWait::Head(head, used),
                    Ok(None) => {}
                    Err(e) => return HeadWait::Invalid(e),
                }
            }
            let deadline = match *first_byte {
                Some(start) => deadline_after(start, request).or(idle),
                None => idle,
            };
            // Read straight into the buffer's spare room (no zeroed chunk per request).
            self.buf.reserve(READ_CHUNK);
            tokio::select! {
                r = self.stream.read_buf(&mut self.buf) => match r {
                    Ok(0) | Err(_) => return HeadWait::Closed(!self.buf.is_empty()),
                    Ok(_) => {}
                },
                () = sleep_until(deadline) => return HeadWait::Timeout(!self.buf.is_empty()),
            }
        }
    }
}

/// A body being forwarded: framing on the way in, re-encoding on the way out.
#[derive(Debug, Clone)]
enum Body {
    Length(u64),
    Chunked(Dechunker),
    UntilClose,
    Done,
}

impl Body {
    fn new(framing: BodyFraming) -> Body {
        match framing {
            BodyFraming::None | BodyFraming::Length(0) => Body::Done,
            BodyFraming::Length(n) => Body::Length(n),
            BodyFraming::Chunked => Body::Chunked(Dechunker::default()),
            BodyFraming::UntilClose => Body::UntilClose,
        }
    }

    fn is_done(&self) -> bool {
        matches!(self, Body::Done)
    }

    /// Moves what `input` holds of the body to `out` (re-chunked if chunked); returns
    /// the bytes HAProxy counts for it in its logs (payload, plus the trailers' HTX
    /// block at the end of a chunked body).
    fn transfer(&mut self, input: &mut Vec<u8>, out: &mut Vec<u8>) -> Result<u64, H1Error> {
        let mut counted = 0;
        match self {
            Body::Done => {}
            Body::Length(left) => {
                let take = usize::try_from(*left)
                    .unwrap_or(usize::MAX)
                    .min(input.len());
                out.extend_from_slice(&input[..take]);
                input.drain(..take);
                *left -= take as u64;
                counted = take as u64;
                if *left == 0 {
                    *self = Body::Done;
                }
            }
            Body::UntilClose => {
                counted = input.len() as u64;
                out.append(input);
            }
            Body::Chunked(dechunker) => {
                let mut payload = Vec::new();
                let used = dechunker.feed(input, &mut payload)?;
                input.drain(..used);
                counted = payload.len() as u64;
                encode_chunk(&payload, out);
                if dechunker.is_done() {
                    encode_last_chunk(&dechunker.trailers, out);
                    // The end-of-trailers block, and each trailer's name and value.
                    counted += h1::htx_trailers_size(&dechunker.trailers);
                    *self = Body::Done;
                }
            }
        }
        Ok(counted)
    }
}

/// What a request turned into, for the log line (the frontend adds the process and
/// frontend counters).
struct Exchange {
    record: HttpLogRecord,
    next: Next,
}

/// What the client connection does after a request.
enum Next {
    /// Wait for the next request.
    KeepOpen,
    Close,
    /// `101 Switching Protocols` was forwarded: the connection becomes a tunnel to this
    /// server, which the stats page's "Kill Sessions" still reaches.
    Tunnel(TcpStream, crate::tcp_session::KillSwitch),
}

impl Next {
    fn closing(close: bool) -> Next {
        if close {
            Next::Close
        } else {
            Next::KeepOpen
        }
    }
}

/// Runs one client connection to its end, calling `log` for every request.
pub async fn run_http_connection(
    connection: ClientConnection,
    routing: &HttpRouting,
    log: &mut (dyn FnMut(HttpLogRecord) + Send),
) {
    // The client side's settings come from the frontend: every route has the same.
    let settings = &routing.default_route().settings;
    let ClientConnection {
        stream,
        client,
        local,
        accepted_at,
        accepted,
        ..
    } = connection;
    let _ = stream.set_nodelay(true);
    if settings.session.client_keepalive {
        let _ = socket2::SockRef::from(&stream).set_keepalive(true);
    }
    let mut conn = Client {
        stream,
        buf: Vec::with_capacity(READ_CHUNK),
        kept: Vec::new(),
        not_first: false,
        prefer_last: false,
    };
    let mut first = true;
    let mut idle_since = accepted;
    loop {
        let mut first_byte = None;
        let idle_deadline = if first {
            deadline_after(accepted, settings.request_timeout())
        } else {
            deadline_after(idle_since, settings.keep_alive_timeout())
        };
        // A soft stop does not release a connection idle between two requests, as
        // HAProxy 2.6 does unless `option idle-close-on-response`: a client sending its
        // next request at that moment would see the connection close unanswered. The
        // next request is answered with `connection: close` (`client_wants_close`); a
        // connection that stays idle ends at its keep-alive timeout (or
        // `hard-stop-after`, which releases it).
        let stopping = settings.stopping.clone();
        let wait = tokio::select! {
            wait = conn.read_head(
                settings.limits,
                idle_deadline,
                settings.request_timeout(),
                &mut first_byte,
            ) => wait,
            () = stopping.hard_stopped() => return,
        };
        let started = first_byte.unwrap_or(idle_since);
        let request_at = accepted_at + (started - accepted);
        let base = HttpLogRecord {
            client,
            request_at,
            frontend: settings.frontend.clone(),
            backend: settings.frontend.clone(),
            server: None,
            request_ms: None,
            queue_ms: None,
            connect_ms: None,
            response_ms: None,
            active_ms: 0,
            idle_ms: ms(started - idle_since),
            status: None,
            bytes_to_client: 0,
            termination: state(TerminationCause::Normal, TerminationPhase::None),
            counters: LogCounters::default(),
            request_line: None,
            null: false,
            unlogged: false,
            cookie_flags: None,
            // A request the multiplexer refuses has no captures (haproxy 2.6.12 logs
            // no `{}` on `<BADREQ>` lines).
            request_captures: Vec::new(),
            response_captures: Vec::new(),
            server_statuses: Vec::new(),
            events: crate::traffic_log::RequestEvents::default(),
            bytes_from_client: 0,
            captured_cookies: [None, None],
        };
        let (head, used) = match wait {
            HeadWait::Head(head, used) => (head, used),
            HeadWait::Invalid(error) => {
                let status = error.request_status();
                let _ = write_all(
                    &mut conn.stream,
                    settings.errors.raw(status),
                    settings.session.timeouts.client,
                )
                .await;
                log(HttpLogRecord {
                    status: Some(status),
                    active_ms: ms(started.elapsed()),
                    termination: state(TerminationCause::Proxy, TerminationPhase::Request),
                    events: failed_request(),
                    ..base
                });
                return;
            }
            HeadWait::Timeout(partial) => {
                if first || partial {
                    let _ = write_all(
                        &mut conn.stream,
                        settings.errors.raw(408),
                        settings.session.timeouts.client,
                    )
                    .await;
                    let record = HttpLogRecord {
                        status: Some(408),
                        events: failed_request(),
                        active_ms: ms(started.elapsed()),
                        termination: state(
                            TerminationCause::ClientTimeout,
                            TerminationPhase::Request,
                        ),
                        ..base
                    };
                    if partial {
                        log(record);
                    } else {
                        log_null(log, record);
                    }
                }
                return;
            }
            HeadWait::Closed(partial) => {
                // A TLS client that closes before its first request is a bad request
                // for haproxy 2.6.12 (`<BADREQ>` 400 `CR--`): the handshake brought
                // bytes in. A plain connection closed unused is not logged, but the
                // stats page counts it as a request answered 400.
                if first && !partial && !conn.stream.is_tls() {
                    log(HttpLogRecord {
                        status: Some(400),
                        unlogged: true,
                        events: failed_request(),
                        termination: state(
                            TerminationCause::ClientAbort,
                            TerminationPhase::Request,
                        ),
                        ..base
                    });
                    return;
                }
                if partial || (first && conn.stream.is_tls()) {
                    log(HttpLogRecord {
                        status: Some(400),
                        events: failed_request(),
                        active_ms: ms(started.elapsed()),
                        termination: state(
                            TerminationCause::ClientAbort,
                            TerminationPhase::Request,
                        ),
                        ..base
                    });
                }
                return;
            }
        };
        conn.buf.drain(..used);
        let head_done = Instant::now();
        if let Some(t) = &routing.traffic {
            t.request_received();
        }
        let captures = &routing.frontend.captures;
        let record = HttpLogRecord {
            request_captures: HeaderCaptures::take(&captures.request, &head.headers),
            response_captures: vec![None; captures.response.len()],
            request_ms: Some(ms(head_done - started)),
            request_line: Some(format!(
                "{} {} {}",
                head.method,
                head.uri,
                head.version.as_str()
            )),
            events: crate::traffic_log::RequestEvents {
                counted_on_arrival: routing.traffic.is_some(),
                ..base.events
            },
            ..base
        };
        let exchange =
            process_request(&mut conn, head, record, routing, local, started, head_done).await;
        let mut record = exchange.record;
        match exchange.next {
            Next::KeepOpen => log(record),
            Next::Close => {
                log(record);
                let _ = conn.stream.shutdown().await;
                return;
            }
            Next::Tunnel(server, kill) => {
                tunnel(conn, server, kill, settings, &mut record).await;
                record.active_ms = ms(started.elapsed());
                log(record);
                return;
            }
        }
        first = false;
        conn.not_first = true;
        idle_since = Instant::now();
    }
}

/// A request head as the H1 multiplexer hands it to the stream: framing checked, the
/// `close`/`keep-alive` tokens of `Connection` taken out (the rules never see them).
struct PreparedRequest {
    head: RequestHead,
    framing: BodyFraming,
    /// Length and chunked together: the connection closes after this exchange.
    smuggling_risk: bool,
    tokens: h1::ConnectionTokens,
}

impl PreparedRequest {
    fn client_wants_close(&self, settings: &HttpSettings) -> bool {
        self.tokens.close
            || (self.head.version == HttpVersion::Http10 && !self.tokens.keep_alive)
            || settings.mode == ConnectionMode::Close
            || self.smuggling_risk
            // HAProxy's `h1_set_cli_conn_mode()`: a stopping frontend closes.
            || settings.stopping.is_stopping()
    }
}

fn prepare_request(mut head: RequestHead, buffered: &[u8]) -> Result<PreparedRequest, H1Error> {
    let (framing, smuggling_risk) = h1::request_framing(&mut head)?;
    let tokens = h1::take_connection_tokens(&mut head.headers);
    h1::check_websocket(&head.headers, tokens.upgrade, false)?;
    // The multiplexer parses the body bytes that came with the head before the stream
    // sees the request: a framing error in either is a bad request (`<BADREQ>`, no
    // backend). Only chunk framing can be wrong.
    if framing == BodyFraming::Chunked && !buffered.is_empty() {
        Body::new(framing).transfer(&mut buffered.to_vec(), &mut Vec::new())?;
    }
    Ok(PreparedRequest {
        head,
        framing,
        smuggling_risk,
        tokens,
    })
}

/// What a proxy's rules answer instead of forwarding the request.
enum LocalAnswer<'a> {
    /// The stats page of `proxy`.
    Stats {
        request: crate::http::stats::StatsRequest,
        page: &'a StatsPage,
        proxy: &'a str,
    },
    /// `deny` (`PR`), `auth` (`LR`), a failed rewrite (500, `IR`): a page of the proxy.
    Page {
        status: u16,
        page: Option<ErrorPage>,
        cause: TerminationCause,
    },
    /// `stats http-request deny`: the proxy's page of `status`, logged as the stats
    /// page's answers are.
    StatsDenied {
        status: u16,
        page: Option<ErrorPage>,
    },
    /// `monitor-uri`: the proxy's 200 page, `LR`, not logged.
    Monitor(Option<ErrorPage>),
    /// `redirect` and `return` (`LR`).
    Reply { reply: Reply, redirect: bool },
    /// `use-service prometheus-exporter`.
    Promex(&'a PromexSource),
}

/// One proxy's `http_process_req_common()`: its `http-request` rules, its stats page,
/// its `redirect` rules.
fn proxy_phase<'a>(
    proxy: &'a ProxyRules,
    head: &mut RequestHead,
    info: &ConnectionInfo,
) -> Option<LocalAnswer<'a>> {
    let verdict = match proxy.rules.on_http_request(head, info) {
        Verdict::Continue => {
            let stats = proxy.stats.as_ref().and_then(|page| {
                let admin = || {
                    let subject = crate::http::acl::Subject {
                        request: head,
                        conn: info,
                        response: None,
                    };
                    page.admin.iter().any(|c| c.holds(&subject))
                };
                let request = crate::http::stats::match_request(&page.settings, head, admin)?;
                Some((page, request))
            });
            match stats {
                Some((page, mut request)) => match proxy.rules.on_stats_request(head, info) {
                    StatsVerdict::Page => {
                        return Some(LocalAnswer::Stats {
                            request,
                            page,
                            proxy: &proxy.name,
                        })
                    }
                    // `stats http-request auth` is what `stats auth` becomes.
                    StatsVerdict::Auth { realm } => {
                        request.action = crate::http::stats::StatsAction::Unauthorized { realm };
                        return Some(LocalAnswer::Stats {
                            request,
                            page,
                            proxy: &proxy.name,
                        });
                    }
                    StatsVerdict::Deny { status } => {
                        return Some(LocalAnswer::StatsDenied {
                            status,
                            page: proxy.errors.page(status),
                        })
                    }
                },
                None => proxy.rules.on_redirect_rules(head, info),
            }
        }
        verdict => verdict,
    };
    match verdict {
        Verdict::Continue => None,
        Verdict::Deny { status } => Some(LocalAnswer::Page {
            status,
            page: proxy.errors.page(status),
            cause: TerminationCause::Proxy,
        }),
        Verdict::Auth { realm } => Some(LocalAnswer::Page {
            status: 401,
            // http_action_auth(): the proxy's 401, its `WWW-Authenticate` lines replaced
            // by the rule's.
            page: proxy.errors.page(401).map(|mut page| {
                page.head.headers.remove("www-authenticate");
                page.head
                    .headers
                    .add("www-authenticate", &format!("Basic realm=\"{realm}\""));
                page
            }),
            cause: TerminationCause::Local,
        }),
        Verdict::PrometheusExporter => Some(LocalAnswer::Promex(&proxy.promex)),
        Verdict::InternalError => Some(LocalAnswer::Page {
            status: 500,
            page: proxy.errors.page(500),
            cause: TerminationCause::Internal,
        }),
        Verdict::Redirect(reply) => Some(LocalAnswer::Reply {
            reply,
            redirect: true,
        }),
        Verdict::Return(reply) => Some(LocalAnswer::Reply {
            reply,
            redirect: false,
        }),
    }
}

/// Runs the rules on a request and forwards it, or answers it locally.
#[allow(clippy::too_many_arguments)]
async fn process_request(
    client: &mut Client,
    head: RequestHead,
    mut record: HttpLogRecord,
    routing: &HttpRouting,
    local: SocketAddr,
    started: Instant,
    head_done: Instant,
) -> Exchange {
    let settings = &routing.default_route().settings;
    let mut prepared = match prepare_request(head, &client.buf) {
        Ok(prepared) => prepared,
        Err(error) => {
            let status = error.request_status();
            let _ = write_all(
                &mut client.stream,
                settings.errors.raw(status),
                settings.session.timeouts.client,
            )
            .await;
            record.status = Some(status);
            record.events.failed_request = true;
            record.termination = state(TerminationCause::Proxy, TerminationPhase::Request);
            record.active_ms = ms(started.elapsed());
            record.request_ms = None;
            record.request_line = None;
            record.request_captures.clear();
            record.response_captures.clear();
            return Exchange {
                record,
                next: Next::Close,
            };
        }
    };
    // `bin` counts the head as the multiplexer put it in HTX: framing and connection
    // headers already taken out.
    record.bytes_from_client = h1::htx_head_size(
        [
            &prepared.head.method,
            &prepared.head.uri,
            prepared.head.version.as_str(),
        ],
        &prepared.head.headers,
    );
    let info = ConnectionInfo {
        client: record.client,
        local,
        tls: client.stream.is_tls(),
    };
    let frontend_after = AfterResponse {
        backend: None,
        frontend: &routing.frontend,
        info,
    };
    if routing.frontend.is_monitor_request(&prepared.head) {
        let page = routing.frontend.errors.page(200);
        return answer_locally(
            client,
            LocalAnswer::Monitor(page),
            prepared,
            record,
            settings,
            frontend_after,
            started,
        )
        .await;
    }
    let cookie_capture = routing.frontend.captures.cookie.as_ref();
    if let Some(answer) = proxy_phase(&routing.frontend, &mut prepared.head, &info) {
        // `intercepted_req`: a service took the request in the frontend's own rules
        // (counted before the exporter reads it, as HAProxy does).
        if let (LocalAnswer::Promex(_), Some(t)) = (&answer, &routing.traffic) {
            t.intercepted();
        }
        // A `listen` section's own backend is its route without backend rules.
        let own = routing.routes.iter().find(|r| r.backend.is_none());
        cookies_on_deny(
            &answer,
            &mut prepared.head,
            own,
            cookie_capture,
            &mut record,
        );
        return answer_locally(
            client,
            answer,
            prepared,
            record,
            settings,
            frontend_after,
            started,
        )
        .await;
    }
    let route = {
        let name = routing.frontend.rules.backend_for(&prepared.head, &info);
        routing.route(name.as_deref())
    };
    record.backend = route.settings.backend.clone();
    if route.cookie.is_some() {
        // `%tsc`'s cookie characters once the backend has persistence: nothing seen,
        // nothing set, until the cookies are processed.
        record.cookie_flags = Some(['N', 'N']);
    }
    let after = AfterResponse {
        backend: route.backend.as_deref(),
        frontend: &routing.frontend,
        info,
    };
    if let Some(backend) = &route.backend {
        if let Some(answer) = proxy_phase(backend, &mut prepared.head, &info) {
            cookies_on_deny(
                &answer,
                &mut prepared.head,
                Some(route),
                cookie_capture,
                &mut record,
            );
            return answer_locally(
                client,
                answer,
                prepared,
                record,
                &route.settings,
                after,
                started,
            )
            .await;
        }
    }
    // `http-response` rules: the backend's, then the frontend's.
    let response_rules: Vec<&ProxyRules> = route
        .backend
        .as_deref()
        .into_iter()
        .chain(std::iter::once(routing.frontend.as_ref()))
        .filter(|p| p.rules.has_response_rules())
        .collect();
    let mut picker = route.picker.clone();
    let mut hint = route.hash.hint(&prepared.head);
    // http_manage_client_side_cookies(): after every rule, in the backend.
    let mut persistence = None;
    if route.cookie.is_some() || cookie_capture.is_some() {
        let running = |server: &str| picker.view(server).server_running;
        let cookie = route.cookie.as_deref();
        let (found, captured) =
            scan_request_cookies(&mut prepared.head, cookie, cookie_capture, &running);
        record.captured_cookies[0] = captured;
        if let Some(cookie) = cookie {
            if let Some(server) = &found.server {
                hint.get_or_insert_with(RequestHint::default).server = Some(server.clone());
            }
            record.cookie_flags = Some([found.flag, 'N']);
            persistence = Some((cookie, found));
        }
    }
    // assign_server(): a session gone private (NTLM) keeps to the server of one of its
    // connections, unless a cookie chose one (`SF_ASSIGNED`) or the balancing hashes.
    if client.prefer_last
        && route.settings.pools.prefer_last
        && !matches!(&hint, Some(h) if h.server.is_some())
    {
        let backend = &route.settings.backend;
        let preferred = client
            .kept
            .iter()
            .filter(|((b, _), conn)| b == backend && conn.is_some())
            .map(|((_, server), _)| server.clone())
            .find(|server| picker.view(server).server_running);
        if let Some(server) = preferred {
            hint.get_or_insert_with(RequestHint::default).server = Some(server);
        }
    }
    picker.set_request(hint);
    forward(
        client,
        prepared,
        record,
        &route.settings,
        &mut picker,
        ResponseRules {
            proxies: response_rules,
            info,
            persistence,
            captures: Some(routing.frontend.captures.response.as_slice()).filter(|c| !c.is_empty()),
            cookie_capture,
            after,
        },
        started,
        head_done,
    )
    .await
}

/// A `deny` (`http_process_req_common()`'s `deny:` label) still reads the request's
/// cookies: the frontend's `capture cookie` (`%CC`) and the persistence cookie of the
/// proxy the request is in (`s->be`: the frontend itself before `use_backend`), whose
/// server is then logged and its `%tsc` characters set (haproxy 2.6.12 logs
/// `be/w1 … PRVN`); no other local answer does.
fn cookies_on_deny(
    answer: &LocalAnswer<'_>,
    head: &mut RequestHead,
    persistence: Option<&HttpRoute>,
    capture: Option<&CookieCapture>,
    record: &mut HttpLogRecord,
) {
    let denied = matches!(
        answer,
        LocalAnswer::Page {
            cause: TerminationCause::Proxy,
            ..
        }
    );
    let persistence = persistence.and_then(|route| Some((route.cookie.as_deref()?, route)));
    if !denied || (capture.is_none() && persistence.is_none()) {
        return;
    }
    let running = |server: &str| {
        persistence.is_some_and(|(_, route)| route.picker.view(server).server_running)
    };
    let (found, captured) =
        scan_request_cookies(head, persistence.map(|(c, _)| c), capture, &running);
    record.captured_cookies[0] = captured;
    if persistence.is_some() {
        record.cookie_flags = Some([found.flag, 'N']);
        record.server = found.server;
    }
}

/// Sends what the rules answered, and logs it as HAProxy does.
async fn answer_locally(
    client: &mut Client,
    answer: LocalAnswer<'_>,
    prepared: PreparedRequest,
    mut record: HttpLogRecord,
    settings: &HttpSettings,
    after: AfterResponse<'_>,
    started: Instant,
) -> Exchange {
    let after = AfterRules::new(&after, Some(&prepared.head));
    let client_timeout = settings.session.timeouts.client;
    // The request body is never forwarded: what came with the head is dropped; if more
    // is to come, the connection cannot carry another request.
    // An admin POST to the stats page is processed once its whole form has arrived
    // (`stats_process_http_post()` waits for `HTTP_MSG_DONE`).
    let admin_post = matches!(
        &answer,
        LocalAnswer::Stats { request, .. }
            if matches!(request.action, crate::http::stats::StatsAction::AdminPost { .. })
    );
    let form = if admin_post {
        Some(
            read_form(
                client,
                prepared.framing,
                settings.limits.max_head_bytes,
                client_timeout,
            )
            .await,
        )
    } else {
        None
    };
    let body_complete = match &form {
        Some(form) => matches!(form, FormBody::Complete(_)),
        None => {
            let mut body = Body::new(prepared.framing);
            body.transfer(&mut client.buf, &mut Vec::new()).is_ok() && body.is_done()
        }
    };
    let side = ClientSide {
        close: prepared.client_wants_close(settings) || !body_complete,
        version: prepared.head.version,
        head_only: prepared.head.method == "HEAD",
    };
    match answer {
        LocalAnswer::Stats {
            mut request,
            page,
            proxy,
        } => {
            request.close = side.close;
            if let Some(form) = form {
                let code = match form {
                    FormBody::Complete(form) => crate::http::stats::process_admin_post(
                        &form,
                        &mut AdminOn(page.source.as_ref()),
                    ),
                    FormBody::TooLarge => "EXCD",
                    FormBody::Failed => {
                        record.termination =
                            state(TerminationCause::ClientAbort, TerminationPhase::Data);
                        record.active_ms = ms(started.elapsed());
                        return Exchange {
                            record,
                            next: Next::Close,
                        };
                    }
                };
                request = request.posted(code);
            }
            let mut bytes = crate::http::stats::respond(
                &page.settings,
                &request,
                proxy,
                &page.source.snapshot(),
            );
            if side.head_only && request.status() != 200 {
                // The 401/303 HAProxy builds through the proxy-reply path, whose payload
                // a HEAD request skips (the page itself handles HEAD).
                if let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
                    bytes.truncate(end + 4);
                }
            }
            if let Some(after) = after {
                bytes = stats_after_response(bytes, &after, settings.limits);
            }
            let failed = write_all(&mut client.stream, &bytes, client_timeout)
                .await
                .is_err();
            let record = stats_record(record, &request, bytes.len(), started);
            return Exchange {
                record,
                next: Next::closing(failed || side.close),
            };
        }
        LocalAnswer::Page {
            status,
            page,
            cause,
        } => {
            record.status = Some(status);
            record.events.denied_request = cause == TerminationCause::Proxy;
            record.bytes_to_client = send_page(
                client,
                page,
                side,
                client_timeout,
                after,
                &mut record.status,
            )
            .await;
            record.termination = state(cause, TerminationPhase::Request);
        }
        LocalAnswer::StatsDenied { status, page } => {
            // haproxy 2.6.12 logs it as the stats applet's answer: server `<STATS>`,
            // `%Tq`/`%Tw`/`%Tc` set, `%Tr` -1, status 400 whatever the page (as for its
            // 401), `PR--`.
            let mut sent = Some(status);
            record.bytes_to_client =
                send_page(client, page, side, client_timeout, after, &mut sent).await;
            record.server = Some("<STATS>".into());
            record.queue_ms = Some(0);
            record.connect_ms = Some(0);
            record.response_ms = None;
            record.status = Some(400);
            record.termination = state(TerminationCause::Proxy, TerminationPhase::Request);
        }
        LocalAnswer::Monitor(page) => {
            record.status = Some(200);
            record.unlogged = true;
            record.bytes_to_client = send_page(
                client,
                page,
                side,
                client_timeout,
                after,
                &mut record.status,
            )
            .await;
            record.termination = state(TerminationCause::Local, TerminationPhase::Request);
        }
        LocalAnswer::Promex(source) => {
            return promex_answer(
                client,
                source,
                &prepared.head,
                side,
                client_timeout,
                record,
                started,
            )
            .await;
        }
        LocalAnswer::Reply {
            mut reply,
            redirect,
        } => {
            if let Some(after) = after {
                if !after.rules.apply(after.request, &mut reply.head) {
                    if let Some(page) = after.rules.frontend.errors.page(500) {
                        reply = Reply {
                            head: page.head,
                            body: page.body,
                        };
                    }
                }
            }
            // With the body still coming, the connection closes after the answer; the
            // multiplexer writes `connection: close` last, as on any answer (measured
            // on haproxy 2.6.12). A redirect has also put its own `Connection: close`
            // first in the HTX message (http_apply_redirect_rule()), which the
            // multiplexer drops but `%B` counts.
            if side.head_only {
                reply.body.clear();
            }
            record.status = Some(reply.head.status);
            record.bytes_to_client = reply_logged_size(&reply);
            if redirect && !body_complete {
                record.bytes_to_client += ("Connection".len() + "close".len()) as u64;
            }
            let bytes = reply.to_bytes_with_connection(connection_header(side, reply.head.version));
            let _ = write_all(&mut client.stream, &bytes, client_timeout).await;
            record.termination = state(TerminationCause::Local, TerminationPhase::Request);
        }
    }
    record.active_ms = ms(started.elapsed());
    Exchange {
        record,
        next: Next::closing(side.close),
    }
}

/// The Prometheus exporter's answer, logged as haproxy 2.6.12 logs its applet's:
/// server `<PROMEX>`, `%Tq`..`%Tr` 0, `LR`, `%B` the HTX size of what it sent.
async fn promex_answer(
    client: &mut Client,
    source: &PromexSource,
    request: &RequestHead,
    side: ClientSide,
    timeout: Option<Duration>,
    record: HttpLogRecord,
    started: Instant,
) -> Exchange {
    use crate::http::promex;
    let (bytes, status, logged, close) = match promex::parse_query(&request.uri) {
        Ok(options) => {
            let mut head = promex::RESPONSE_HEAD.to_string();
            if let Some(conn) = connection_header(side, HttpVersion::Http11) {
                head.push_str("connection: ");
                head.push_str(conn);
                head.push_str("\r\n");
            }
            head.push_str("\r\n");
            let mut bytes = head.into_bytes();
            let mut logged = promex::LOGGED_HEAD_BYTES;
            if !side.head_only {
                let mut text = promex::render(&source.stats.snapshot(), &options);
                // Extra families go with a whole page only: a `scope=` scrape asks for
                // HAProxy's parts it names.
                if let Some(extra) = source
                    .extra
                    .get()
                    .filter(|_| options.scopes == promex::Scopes::ALL)
                {
                    text.push_str(&extra());
                }
                logged += text.len() as u64;
                if !text.is_empty() {
                    bytes.extend_from_slice(format!("{:X}\r\n", text.len()).as_bytes());
                    bytes.extend_from_slice(text.as_bytes());
                    bytes.extend_from_slice(b"\r\n");
                }
                bytes.extend_from_slice(b"0\r\n\r\n");
            }
            (bytes, 200, logged, side.close)
        }
        // promex_parse_uri(): HAProxy's raw 400 (`http_err_chunks`), then the close.
        // The multiplexer writes its `connection: close` last (measured).
        Err(promex::BadQuery) => match ErrorPage::parse(crate::http::errors::built_in(400)) {
            Some(mut page) => {
                let logged = page.logged_size();
                page.head.headers.remove("connection");
                page.head.headers.add("connection", "close");
                (page.to_bytes(), 400, logged, true)
            }
            None => (Vec::new(), 400, 0, true),
        },
    };
    let failed = write_all(&mut client.stream, &bytes, timeout)
        .await
        .is_err();
    let record = HttpLogRecord {
        server: Some("<PROMEX>".into()),
        queue_ms: Some(0),
        connect_ms: Some(0),
        response_ms: Some(0),
        status: Some(status),
        bytes_to_client: logged,
        active_ms: ms(started.elapsed()),
        termination: state(TerminationCause::Local, TerminationPhase::Request),
        ..record
    };
    Exchange {
        record,
        next: Next::closing(failed || close),
    }
}

/// A request refused before it was whole (`failed_req`).
fn failed_request() -> crate::traffic_log::RequestEvents {
    crate::traffic_log::RequestEvents {
        failed_request: true,
        ..Default::default()
    }
}

/// How reading the admin form's body ended.
enum FormBody {
    Complete(Vec<u8>),
    /// More than HAProxy's buffer holds (`EXCD`).
    TooLarge,
    /// The client closed, sent an invalid chunk, or timed out.
    Failed,
}

/// Reads a request body to its end (payload only), up to `limit` bytes.
async fn read_form(
    client: &mut Client,
    framing: BodyFraming,
    limit: usize,
    timeout: Option<Duration>,
) -> FormBody {
    let mut payload = Vec::new();
    let mut left = match framing {
        BodyFraming::Length(n) => n,
        BodyFraming::None | BodyFraming::UntilClose => return FormBody::Complete(payload),
        BodyFraming::Chunked => 0,
    };
    let mut dechunker = (framing == BodyFraming::Chunked).then(Dechunker::default);
    let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
    loop {
        match &mut dechunker {
            Some(d) => {
                let Ok(used) = d.feed(&client.buf, &mut payload) else {
                    return FormBody::Failed;
                };
                client.buf.drain(..used);
                if d.is_done() {
                    return FormBody::Complete(payload);
                }
            }
            None => {
                let take = usize::try_from(left)
                    .unwrap_or(usize::MAX)
                    .min(client.buf.len());
                payload.extend(client.buf.drain(..take));
                left -= take as u64;
                if left == 0 {
                    return FormBody::Complete(payload);
                }
            }
        }
        if payload.len() > limit {
            return FormBody::TooLarge;
        }
        client.buf.reserve(READ_CHUNK);
        tokio::select! {
            r = client.stream.read_buf(&mut client.buf) => match r {
                Ok(0) | Err(_) => return FormBody::Failed,
                Ok(_) => {}
            },
            () = sleep_until(deadline) => return FormBody::Failed,
        }
    }
}

/// The stats page's answer through the `http-after-response` rules (its head is parsed
/// back from the bytes the page module built); unchanged when a rewrite fails.
fn stats_after_response(bytes: Vec<u8>, after: &AfterRules<'_>, limits: HeadLimits) -> Vec<u8> {
    let Ok(Some((mut head, used))) = h1::parse_response(&bytes, limits) else {
        return bytes;
    };
    // The trailing `connection` (and, to HTTP/1.0, `transfer-encoding`) lines are the
    // H1 multiplexer's, written after whatever the rules add.
    let mut written_by_mux = Vec::new();
    while let Some(last) = head.headers.0.last() {
        let by_mux = last.name == "connection"
            || (after.request.version == HttpVersion::Http10 && last.name == "transfer-encoding");
        match head.headers.0.pop() {
            Some(header) if by_mux => written_by_mux.insert(0, header),
            Some(header) => {
                head.headers.0.push(header);
                break;
            }
            None => break,
        }
    }
    if !after.rules.apply(after.request, &mut head) {
        return bytes;
    }
    head.headers.0.extend(written_by_mux);
    let mut out = serialize_response(&head);
    out.extend_from_slice(&bytes[used..]);
    out
}

/// The log record of a request the stats page answered, as haproxy 2.6.12 logs it:
/// server `<STATS>`, `%Tr` -1 for a 401, status 400 (sic: the stream's status is never
/// set from the applet's 401) and termination `LR` (processed locally, in the request
/// phase).
fn stats_record(
    record: HttpLogRecord,
    request: &crate::http::stats::StatsRequest,
    sent: usize,
    started: Instant,
) -> HttpLogRecord {
    let status = request.status();
    HttpLogRecord {
        server: Some("<STATS>".into()),
        queue_ms: Some(0),
        connect_ms: Some(0),
        // `%Tr` is 0 for the page and the 303 after a POST, -1 for a 401 (measured).
        response_ms: (status != 401).then_some(0),
        status: Some(if status == 401 { 400 } else { status }),
        bytes_to_client: request.logged_bytes(sent),
        active_ms: ms(started.elapsed()),
        termination: state(TerminationCause::Local, TerminationPhase::Request),
        ..record
    }
}

/// A connection that timed out without sending anything: logged unless `option
/// dontlognull`.
fn log_null(log: &mut (dyn FnMut(HttpLogRecord) + Send), record: HttpLogRecord) {
    log(HttpLogRecord {
        null: true,
        ..record
    });
}

/// The request as it goes to the server, and what the client asked about the
/// connection.
#[derive(Clone)]
struct RequestPlan {
    head_bytes: Vec<u8>,
    body: Body,
    client_wants_close: bool,
    method: String,
    version: HttpVersion,
    /// The request head as the rules left it, kept for `http-response` rules.
    head: Option<RequestHead>,
}

fn plan_request(
    prepared: PreparedRequest,
    settings: &HttpSettings,
    client: SocketAddr,
    keep_head: bool,
) -> RequestPlan {
    let client_wants_close = prepared.client_wants_close(settings);
    let PreparedRequest {
        mut head,
        framing,
        tokens,
        ..
    } = prepared;
    let kept = keep_head.then(|| head.clone());
    if let Some(ff) = &settings.forwardfor {
        if ff.applies_to(client.ip()) && !(ff.if_none && head.headers.contains(&ff.header)) {
            let name = ff.header.to_ascii_lowercase();
            head.headers.add(&name, &client.ip().to_string());
        }
    }
    // The server side is HAProxy's own connection: keep-alive asked for in every mode
    // but the closing ones, whatever the client wants (haproxy 2.6.12 sends a 1.0
    // client's request with `connection: keep-alive`, a closing 1.1 client's without
    // `connection: close`).
    match (settings.mode, head.version) {
        (ConnectionMode::KeepAlive, HttpVersion::Http10) => {
            head.headers.add("connection", "keep-alive");
        }
        // An upgrade asks for the connection to stay (haproxy 2.6.12 adds nothing).
        (ConnectionMode::ServerClose | ConnectionMode::Close, HttpVersion::Http11)
            if !tokens.upgrade =>
        {
            head.headers.add("connection", "close");
        }
        _ => {}
    }
    RequestPlan {
        head_bytes: serialize_request(&head),
        body: Body::new(framing),
        client_wants_close,
        method: head.method,
        version: head.version,
        head: kept,
    }
}

/// The `http-response` rules a forwarded response goes through (the backend's, then
/// the frontend's), and the connection facts their conditions read.
struct ResponseRules<'a> {
    proxies: Vec<&'a ProxyRules>,
    info: ConnectionInfo,
    /// The backend's cookie persistence and what the request's cookie said.
    persistence: Option<(&'a CookiePersistence, RequestCookie)>,
    /// The frontend's `capture response header` lines, if any.
    captures: Option<&'a [(String, usize)]>,
    /// The frontend's `capture cookie`.
    cookie_capture: Option<&'a CookieCapture>,
    /// The `http-after-response` rules of every answer.
    after: AfterResponse<'a>,
}

/// How the client connection stands when the proxy answers: whether it will close, and
/// the request's HTTP version (the `connection:` header HAProxy's mux writes depends on
/// both).
#[derive(Debug, Clone, Copy)]
struct ClientSide {
    close: bool,
    version: HttpVersion,
    /// A HEAD request: HAProxy's own answers go without their body
    /// (`http_forward_proxy_resp()` skips the payload, and `%B` does not count it).
    head_only: bool,
}

/// The `connection` header HAProxy's multiplexer writes on an answer: `close` when the
/// connection ends after it (to an HTTP/1.1 side), `keep-alive` when a 1.0 exchange
/// stays open.
fn connection_header(side: ClientSide, response: HttpVersion) -> Option<&'static str> {
    let eleven = |v: HttpVersion| v == HttpVersion::Http11;
    if side.close {
        (eleven(response) || eleven(side.version)).then_some("close")
    } else {
        (!eleven(response) || !eleven(side.version)).then_some("keep-alive")
    }
}

/// `%B` of a redirect or `return` answer: its HTX size.
fn reply_logged_size(reply: &Reply) -> u64 {
    let status = reply.head.status.to_string();
    h1::htx_head_size(
        [reply.head.version.as_str(), &status, &reply.head.reason],
        &reply.head.headers,
    ) + reply.body.len() as u64
}

/// Sends a page the proxy answers with; returns the logged size (0 if nothing sent).
/// HAProxy's multiplexer cleans the page's own `Connection` header and writes its own,
/// as for any response (haproxy 2.6.12 sends its 503 with `connection: close` to a
/// client that asked to close); `%B` counts the page as HTX holds it, before that.
/// The page goes through the `http-after-response` rules first (`status` follows a
/// `set-status`), and `%B` counts it as they left it.
async fn send_page(
    client: &mut Client,
    page: Option<ErrorPage>,
    side: ClientSide,
    timeout: Option<Duration>,
    after: Option<AfterRules<'_>>,
    status: &mut Option<u16>,
) -> u64 {
    let page = match after {
        Some(after) => after.page(page),
        None => page,
    };
    let Some(mut page) = page else {
        return 0;
    };
    if status.is_some() {
        *status = Some(page.head.status);
    }
    if side.head_only {
        page.body.clear();
    }
    let logged = page.logged_size();
    h1::take_connection_tokens(&mut page.head.headers);
    if let Some(value) = connection_header(side, page.head.version) {
        page.head.headers.add("connection", value);
    }
    let _ = write_all(&mut client.stream, &page.to_bytes(), timeout).await;
    logged
}

#[allow(clippy::too_many_arguments)]
async fn forward(
    client: &mut Client,
    prepared: PreparedRequest,
    mut record: HttpLogRecord,
    settings: &HttpSettings,
    picker: &mut SharedPicker,
    response_rules: ResponseRules<'_>,
    started: Instant,
    head_done: Instant,
) -> Exchange {
    let local = response_rules.info.local;
    let plan = plan_request(
        prepared,
        settings,
        record.client,
        !response_rules.proxies.is_empty() || !response_rules.after.is_empty(),
    );
    // The connect loop works on a TCP session record.
    let mut session = SessionRecord {
        client: record.client,
        destination: local,
        accepted_at: record.request_at,
        server: None,
        queue_ms: None,
        queue_position: QueuePosition::default(),
        connect_ms: None,
        total_ms: 0,
        bytes_from_client: 0,
        bytes_to_client: 0,
        bytes_spliced: 0,
        retries: 0,
        redispatched: false,
        termination: state(TerminationCause::Normal, TerminationPhase::None),
        embryonic: None,
    };
    picker.enter_backend();
    record.events.entered_backend = true;
    // connect_server(): the client connection's own idle connection to the server the
    // balancer picked (`http-reuse never`), else one of the server's pool as the
    // `http-reuse` rules allow (whatever the method: HAProxy does not look at it).
    let request = if client.not_first || settings.pools.retry_safe {
        Eligibility::Later
    } else {
        Eligibility::FirstRequest
    };
    let mut reused = false;
    let mut private = false;
    let kept = &mut client.kept;
    let pools = &settings.pools;
    let addresses = (record.client, local);
    let mut take = |server: &str| {
        if let Some(stream) = take_kept(kept, &settings.backend, server) {
            (reused, private) = (true, true);
            return Some(stream);
        }
        let stream = pools.take(server, request, addresses)?;
        reused = true;
        Some(stream)
    };
    let idle: Option<IdleConnections<'_>> = Some(&mut take);
    let connected = connect_with_retries(
        &mut client.stream,
        &mut client.buf,
        &settings.session,
        picker,
        &mut session,
        head_done,
        idle,
    )
    .await;
    let attempt = Attempt {
        connected,
        reused,
        private,
    };
    let next = exchange_attempt(
        client,
        attempt,
        plan,
        settings,
        picker,
        &response_rules,
        &mut session,
        &mut record,
        started,
    )
    .await;
    Exchange { record, next }
}

/// One connection attempt's outcome for [`forward`].
struct Attempt {
    connected: Option<(TcpStream, ServerTarget)>,
    /// The connection was an idle one.
    reused: bool,
    /// It was one of the client connection's own (private).
    private: bool,
}

#[allow(clippy::too_many_arguments)]
async fn exchange_attempt(
    client: &mut Client,
    attempt: Attempt,
    plan: RequestPlan,
    settings: &HttpSettings,
    picker: &mut SharedPicker,
    response_rules: &ResponseRules<'_>,
    session: &mut SessionRecord,
    record: &mut HttpLogRecord,
    started: Instant,
) -> Next {
    let client_timeout = settings.session.timeouts.client;
    let connected = attempt.connected;
    record.server = session.server.clone();
    record.queue_ms = session.queue_ms;
    record.connect_ms = session.connect_ms;
    record.counters.retries = session.retries;
    record.counters.redispatched = session.redispatched;
    record.counters.server_queue = session.queue_position.server_queue;
    record.counters.backend_queue = session.queue_position.backend_queue;
    let Some((server, target)) = connected else {
        if session.termination.phase == TerminationPhase::Connect {
            // Attempts that failed (after a redispatch, all counted on the last server).
            if let Some(server) = &session.server {
                settings
                    .pools
                    .count_attempts(server, session.retries + 1, false);
            }
        }
        let aborted = session.termination.cause == TerminationCause::ClientAbort;
        if !aborted {
            record.status = Some(503);
            let after = AfterRules::new(&response_rules.after, plan.head.as_ref());
            record.bytes_to_client = send_page(
                client,
                settings.errors.page(503),
                ClientSide {
                    close: plan.client_wants_close,
                    version: plan.version,
                    head_only: plan.method == "HEAD",
                },
                client_timeout,
                after,
                &mut record.status,
            )
            .await;
        }
        record.termination = session.termination;
        record.active_ms = ms(started.elapsed());
        leave_backend(picker, record);
        return Next::closing(aborted || plan.client_wants_close);
    };
    picker.connected(&target.name);
    settings
        .pools
        .count_attempts(&target.name, session.retries + 1, attempt.reused);
    if !attempt.reused {
        settings
            .pools
            .opened(&target.name, settings.pools.mode == ReuseMode::Never);
    }
    let mut link = ServerLink {
        reused: attempt.reused,
        keep: None,
        private: attempt.private || settings.pools.mode == ReuseMode::Never,
        not_first: client.not_first,
        kill: target.kill.armed(),
    };
    let next = exchange(
        client,
        server,
        plan,
        settings,
        response_rules,
        record,
        &mut link,
    )
    .await;
    // A tunnel keeps the server connection; HAProxy counts it until the stream ends,
    // but the balancer slot is released here (the frontend logs after the tunnel).
    picker.released(&target.name, true);
    // A pooled or new connection is counted in use until it goes back or closes; a
    // private one is not (conn_set_private() releases it from the server's count).
    let counted = !attempt.private && settings.pools.mode != ReuseMode::Never;
    if counted && (link.private || link.keep.is_none()) {
        // Closed (a tunnel's connection is counted closed from here on), or private now.
        settings.pools.closed(&target.name);
    }
    match link.keep {
        // h1_detach(): private connections stay with the session, others go to the
        // server's pool (the one that had served a request before to its safe list).
        Some(stream) if link.private => {
            keep_server(&mut client.kept, &settings.backend, &target.name, stream);
        }
        Some(stream) => settings.pools.put(
            &target.name,
            (record.client, session.destination),
            stream,
            link.reused,
        ),
        None => {}
    }
    leave_backend(picker, record);
    record.active_ms = ms(started.elapsed());
    next
}

/// What became of the server connection of an exchange.
struct ServerLink {
    /// It was an idle connection an earlier request left open.
    reused: bool,
    /// It can carry another request.
    keep: Option<TcpStream>,
    /// It belongs to its client connection (`http-reuse never`, or an NTLM/Negotiate
    /// authentication answer went over it).
    private: bool,
    /// The request is not the client connection's first (`TX_NOT_FIRST`): a server
    /// failing before the response head closes the client connection silently.
    not_first: bool,
    /// The server's "Kill Sessions" signal, from the request's start.
    kill: crate::tcp_session::KillSwitch,
}

/// The request leaves the backend: `%bc`/`%sc` as the log line shows them (this request
/// no longer counted on the backend, the server's count as it was when it left it).
fn leave_backend(picker: &mut SharedPicker, record: &mut HttpLogRecord) {
    let (backend, server) = picker.counts(record.server.as_deref());
    picker.leave_backend();
    record.counters.backend = backend.saturating_sub(1);
    record.counters.server = server;
}

/// How the response side stands.
enum Response {
    /// Bytes of the head so far.
    Head(Vec<u8>),
    Body(Body),
}

/// The exchange with a connected server: request head and body out, response back.
async fn exchange(
    client: &mut Client,
    server: TcpStream,
    plan: RequestPlan,
    settings: &HttpSettings,
    rules: &ResponseRules<'_>,
    record: &mut HttpLogRecord,
    link: &mut ServerLink,
) -> Next {
    match exchange_inner(client, server, plan, settings, rules, record, link).await {
        Ok(close) => Next::closing(close),
        Err(server) => Next::Tunnel(server, std::mem::take(&mut link.kill)),
    }
}

/// `Ok(close the client)`, or `Err(server)` for a tunnel.
async fn exchange_inner(
    client: &mut Client,
    mut server: TcpStream,
    plan: RequestPlan,
    settings: &HttpSettings,
    rules: &ResponseRules<'_>,
    record: &mut HttpLogRecord,
    link: &mut ServerLink,
) -> Result<bool, TcpStream> {
    let timeouts = settings.session.timeouts;
    let mut server_wants_close = false;
    let RequestPlan {
        head_bytes,
        body: mut request_body,
        client_wants_close,
        method,
        version: request_version,
        head: request_head,
    } = plan;
    let side = ClientSide {
        close: client_wants_close,
        version: request_version,
        head_only: method == "HEAD",
    };
    let end = |record: &mut HttpLogRecord, cause, phase| {
        if record.termination.cause == TerminationCause::Normal {
            record.termination = TerminationState { cause, phase };
        }
    };
    let mut to_server = head_bytes;
    let mut from_server = Vec::new();
    let mut response = Response::Head(Vec::new());
    let mut to_client = Vec::new();
    let mut server_closed = false;
    let mut close_client = client_wants_close;
    let mut request_sent_at: Option<Instant> = None;
    let mut client_deadline = deadline_after(Instant::now(), timeouts.client);
    let mut server_deadline;
    loop {
        // Request body bytes already buffered move on.
        match request_body.transfer(&mut client.buf, &mut to_server) {
            Ok(counted) => record.bytes_from_client += counted,
            Err(_) => {
                // A broken request body: HAProxy answers 400 if no response began.
                if matches!(response, Response::Head(_)) {
                    let _ = write_all(
                        &mut client.stream,
                        settings.errors.raw(400),
                        timeouts.client,
                    )
                    .await;
                    record.status = Some(400);
                }
                record.events.failed_request = true;
                end(record, TerminationCause::Proxy, TerminationPhase::Request);
                return Ok(true);
            }
        }
        if !to_server.is_empty() {
            if let Err(timeout) = write_all(&mut server, &to_server, timeouts.server).await {
                if link.not_first && !timeout && matches!(response, Response::Head(_)) {
                    abort_keep_alive(record);
                    return Ok(true);
                }
                let cause = if timeout {
                    TerminationCause::ServerTimeout
                } else {
                    TerminationCause::ServerAbort
                };
                if matches!(response, Response::Head(_)) {
                    send_failure_page(
                        client,
                        settings,
                        rules,
                        request_head.as_ref(),
                        side,
                        record,
                        502,
                        true,
                    )
                    .await;
                    end(record, cause, TerminationPhase::Headers);
                } else {
                    end(record, cause, TerminationPhase::Data);
                }
                return Ok(true);
            }
            to_server.clear();
            request_sent_at.get_or_insert_with(Instant::now);
        }
        // The response: head first (1xx interim heads forwarded as they come), body next.
        loop {
            match &mut response {
                Response::Head(buf) => {
                    buf.append(&mut from_server);
                    let parsed = h1::parse_response(buf, settings.limits);
                    let (mut head, used) = match parsed {
                        Ok(Some(x)) => x,
                        Ok(None) => break,
                        Err(_) => {
                            send_failure_page(
                                client,
                                settings,
                                rules,
                                request_head.as_ref(),
                                side,
                                record,
                                502,
                                true,
                            )
                            .await;
                            end(record, TerminationCause::Proxy, TerminationPhase::Headers);
                            return Ok(true);
                        }
                    };
                    let rest = buf.split_off(used);
                    if record.response_ms.is_none() {
                        record.response_ms =
                            Some(ms(request_sent_at.map_or(Duration::ZERO, |t| t.elapsed())));
                    }
                    let tokens = h1::take_connection_tokens(&mut head.headers);
                    let checked = if head.status == 101 {
                        h1::check_websocket(&head.headers, tokens.upgrade, true)
                    } else {
                        Ok(())
                    };
                    let framing =
                        match checked.and_then(|()| h1::response_framing(&mut head, &method)) {
                            Ok(f) => f,
                            Err(_) => {
                                send_failure_page(
                                    client,
                                    settings,
                                    rules,
                                    request_head.as_ref(),
                                    side,
                                    record,
                                    502,
                                    true,
                                )
                                .await;
                                end(record, TerminationCause::Proxy, TerminationPhase::Headers);
                                return Ok(true);
                            }
                        };
                    // The server's `req_tot`/`hrsp_*` count every head it answered,
                    // interim ones included (`http_wait_for_response()`).
                    record.server_statuses.push(head.status);
                    let head_size = |head: &ResponseHead| {
                        let status = head.status.to_string();
                        h1::htx_head_size(
                            [head.version.as_str(), &status, &head.reason],
                            &head.headers,
                        )
                    };
                    if head.status < 200 {
                        record.bytes_to_client += head_size(&head);
                    }
                    if head.status == 101 {
                        record.status = Some(101);
                        // A 101 goes through http_process_res_common() too; its
                        // `http-after-response` rules (the `http-response` ones are not
                        // run on it here yet).
                        if let Some(after) = AfterRules::new(&rules.after, request_head.as_ref()) {
                            if after.rules.apply(after.request, &mut head) {
                                record.status = Some(head.status);
                            }
                        }
                        to_client.extend_from_slice(&serialize_response(&head));
                        to_client.extend_from_slice(&rest);
                        if write_all(&mut client.stream, &to_client, timeouts.client)
                            .await
                            .is_err()
                        {
                            end(
                                record,
                                TerminationCause::ClientAbort,
                                TerminationPhase::Data,
                            );
                            return Ok(true);
                        }
                        return Err(server);
                    }
                    if (100..200).contains(&head.status) {
                        // Interim: forwarded, and the final head is still to come.
                        to_client.extend_from_slice(&serialize_response(&head));
                        *buf = rest;
                        continue;
                    }
                    record.status = Some(head.status);
                    if asks_connection_auth(&head) {
                        link.private = true;
                        client.prefer_last = true;
                    }
                    if let Some(wanted) = rules.captures {
                        record.response_captures = HeaderCaptures::take(wanted, &head.headers);
                    }
                    // `%B` counts the head as the server sent it, before the
                    // `http-response` rules (measured on haproxy 2.6.12: a removed
                    // `Server` header still counts, an added one does not).
                    record.bytes_to_client += head_size(&head);
                    if let Some(request) = &request_head {
                        if let Some((proxy, status)) =
                            response_rules_deny(rules, request, &mut head)
                        {
                            // http_process_res_common(): the response is dropped, the
                            // proxy's page goes instead, `%Tr` is -1.
                            record.status = Some(status);
                            record.events.denied_response = status != 500;
                            record.response_ms = None;
                            record.bytes_to_client += send_page(
                                client,
                                proxy.errors.page(status),
                                side,
                                timeouts.client,
                                AfterRules::new(&rules.after, Some(request)),
                                &mut record.status,
                            )
                            .await;
                            let cause = if status == 500 {
                                TerminationCause::Internal
                            } else {
                                TerminationCause::Proxy
                            };
                            end(record, cause, TerminationPhase::Headers);
                            return Ok(side.close);
                        }
                    }
                    if rules.cookie_capture.is_some() {
                        // http_manage_server_side_cookies(): after the `http-response`
                        // rules, before the persistence cookie is added.
                        record.captured_cookies[1] =
                            scan_set_cookies(&mut head, None, rules.cookie_capture).1;
                    }
                    if let (Some((cookie, found)), Some(server)) =
                        (&rules.persistence, record.server.as_deref())
                    {
                        let set = cookie.on_response(&mut head, server, found, &method);
                        record.cookie_flags = Some([found.flag, set]);
                    }
                    // http_process_res_common()'s end: the `http-after-response` rules.
                    let mut empty_chunked = false;
                    if let Some(after) = AfterRules::new(&rules.after, request_head.as_ref()) {
                        let before = head.status;
                        if after.rules.apply(after.request, &mut head) {
                            record.status = Some(head.status);
                            empty_chunked =
                                bodyless_became_bodied(before, &head, &method, request_version);
                        } else {
                            record.status = Some(500);
                            record.response_ms = None;
                            record.bytes_to_client += send_page(
                                client,
                                after.rules.frontend.errors.page(500),
                                side,
                                timeouts.client,
                                None,
                                &mut record.status,
                            )
                            .await;
                            end(
                                record,
                                TerminationCause::Internal,
                                TerminationPhase::Headers,
                            );
                            return Ok(side.close);
                        }
                    }
                    // What the server asked for decides whether its connection can
                    // carry another request.
                    server_wants_close =
                        tokens.close || (head.version == HttpVersion::Http10 && !tokens.keep_alive);
                    // A soft stop begun while the server answered closes too
                    // (`h1_set_cli_conn_mode()` runs again on the response).
                    if framing == BodyFraming::UntilClose || settings.stopping.is_stopping() {
                        close_client = true;
                    }
                    if close_client {
                        if head.version == HttpVersion::Http11
                            || request_version == HttpVersion::Http11
                        {
                            head.headers.add("connection", "close");
                        }
                    } else if head.version == HttpVersion::Http10
                        || request_version == HttpVersion::Http10
                    {
                        head.headers.add("connection", "keep-alive");
                    }
                    if empty_chunked {
                        head.headers.add("transfer-encoding", "chunked");
                    }
                    to_client.extend_from_slice(&serialize_response(&head));
                    if empty_chunked {
                        to_client.extend_from_slice(b"0\r\n\r\n");
                    }
                    from_server = rest;
                    response = Response::Body(Body::new(framing));
                }
                Response::Body(body) => {
                    match body.transfer(&mut from_server, &mut to_client) {
                        Ok(n) => record.bytes_to_client += n,
                        Err(_) => {
                            end(record, TerminationCause::Proxy, TerminationPhase::Data);
                            let _ =
                                write_all(&mut client.stream, &to_client, timeouts.client).await;
                            return Ok(true);
                        }
                    }
                    break;
                }
            }
        }
        if !to_client.is_empty() {
            if write_all(&mut client.stream, &to_client, timeouts.client)
                .await
                .is_err()
            {
                end(
                    record,
                    TerminationCause::ClientAbort,
                    TerminationPhase::Data,
                );
                return Ok(true);
            }
            to_client.clear();
            client_deadline = deadline_after(Instant::now(), timeouts.client);
        }
        let response_done = matches!(&response, Response::Body(b) if b.is_done());
        if response_done {
            if !request_body.is_done() {
                // The server answered before the whole request body came: HAProxy closes.
                return Ok(true);
            }
            // The server connection outlives a client connection that closes: it goes
            // to the pool (HAProxy sends a closing client's request without `close`).
            if settings.mode == ConnectionMode::KeepAlive
                && !server_wants_close
                && !server_closed
                && from_server.is_empty()
            {
                link.keep = Some(server);
            }
            return Ok(close_client);
        }
        if server_closed {
            match &mut response {
                Response::Body(body @ Body::UntilClose) => {
                    *body = Body::Done;
                    return Ok(true);
                }
                Response::Head(buf) => {
                    if link.not_first {
                        abort_keep_alive(record);
                        return Ok(true);
                    }
                    send_failure_page(
                        client,
                        settings,
                        rules,
                        request_head.as_ref(),
                        side,
                        record,
                        502,
                        true,
                    )
                    .await;
                    let _ = buf;
                    end(
                        record,
                        TerminationCause::ServerAbort,
                        TerminationPhase::Headers,
                    );
                    return Ok(true);
                }
                Response::Body(_) => {
                    end(
                        record,
                        TerminationCause::ServerAbort,
                        TerminationPhase::Data,
                    );
                    return Ok(true);
                }
            }
        }
        server_deadline = deadline_after(Instant::now(), timeouts.server);
        let read_client = !request_body.is_done();
        if read_client {
            client.buf.reserve(READ_CHUNK);
        }
        from_server.reserve(READ_CHUNK);
        tokio::select! {
            r = client.stream.read_buf(&mut client.buf), if read_client => match r {
                Ok(0) | Err(_) => {
                    end(record, TerminationCause::ClientAbort,
                        if matches!(response, Response::Head(_)) { TerminationPhase::Headers } else { TerminationPhase::Data });
                    return Ok(true);
                }
                Ok(_) => {
                    client_deadline = deadline_after(Instant::now(), timeouts.client);
                }
            },
            r = server.read_buf(&mut from_server) => match r {
                Ok(0) | Err(_) => server_closed = true,
                Ok(_) => {}
            },
            () = sleep_until(server_deadline) => {
                if matches!(response, Response::Head(_)) {
                    send_failure_page(client, settings, rules, request_head.as_ref(), side, record, 504, true)
                        .await;
                    end(record, TerminationCause::ServerTimeout, TerminationPhase::Headers);
                } else {
                    end(record, TerminationCause::ServerTimeout, TerminationPhase::Data);
                }
                return Ok(true);
            },
            () = sleep_until(client_deadline), if read_client => {
                end(record, TerminationCause::ClientTimeout, TerminationPhase::Data);
                return Ok(true);
            },
            // "Kill Sessions" from the stats page: waiting for the head, the client
            // gets the 502 page and the log `KH--` (measured on haproxy 2.6.12).
            () = link.kill.killed() => {
                if matches!(response, Response::Head(_)) {
                    send_failure_page(client, settings, rules, request_head.as_ref(), side, record, 502, false)
                        .await;
                    end(record, TerminationCause::Killed, TerminationPhase::Headers);
                } else {
                    end(record, TerminationCause::Killed, TerminationPhase::Data);
                }
                return Ok(true);
            },
        }
    }
}

/// A 204 or 304 whose status an `http-after-response set-status` changed to one that
/// has a body: with neither length nor coding, haproxy 2.6.12's H1 multiplexer sends it
/// to an HTTP/1.1 client as an empty chunked body (measured: `299` after `204` arrives
/// with `transfer-encoding: chunked` and `0\r\n\r\n`).
fn bodyless_became_bodied(
    before: u16,
    head: &ResponseHead,
    method: &str,
    request_version: HttpVersion,
) -> bool {
    let bodyless = |status: u16| status == 204 || status == 304 || status < 200;
    bodyless(before)
        && !bodyless(head.status)
        && method != "HEAD"
        && request_version == HttpVersion::Http11
        && head.version == HttpVersion::Http11
        && !head.headers.contains("content-length")
        && !head.headers.contains("transfer-encoding")
}

/// http_wait_for_response(): a 401 whose `WWW-Authenticate` (a 407: `Proxy-Authenticate`)
/// starts with `Nego` or `NTLM` (case-insensitive) authenticates the connection, which
/// then becomes private to its client connection.
fn asks_connection_auth(head: &ResponseHead) -> bool {
    let name = match head.status {
        401 => "www-authenticate",
        407 => "proxy-authenticate",
        _ => return false,
    };
    head.headers.0.iter().any(|h| {
        h.name.eq_ignore_ascii_case(name) && {
            let v = h.value.as_bytes();
            v.len() >= 4
                && (v[..4].eq_ignore_ascii_case(b"Nego") || v[..4].eq_ignore_ascii_case(b"NTLM"))
        }
    })
}

/// `abort_keep_alive` in http_wait_for_response(): a later request whose server failed
/// before the response head; the client connection closes with nothing sent, and the
/// request is not logged (measured on haproxy 2.6.12).
fn abort_keep_alive(record: &mut HttpLogRecord) {
    record.status = None;
    record.unlogged = true;
    if record.termination.cause == TerminationCause::Normal {
        record.termination = state(TerminationCause::ServerAbort, TerminationPhase::Headers);
    }
}

/// The stream's 502/504 page for a response that failed before its head, through the
/// `http-after-response` rules; the status and `%B` as sent. `failed_response`: the
/// stats page counts it in `eresp` (a kill does not).
#[allow(clippy::too_many_arguments)]
async fn send_failure_page(
    client: &mut Client,
    settings: &HttpSettings,
    rules: &ResponseRules<'_>,
    request: Option<&RequestHead>,
    side: ClientSide,
    record: &mut HttpLogRecord,
    status: u16,
    failed_response: bool,
) {
    record.status = Some(status);
    record.events.failed_response |= failed_response;
    // A soft stop begun since the request came closes (`h1_set_cli_conn_mode()` runs
    // again on the answer).
    let side = ClientSide {
        close: side.close || settings.stopping.is_stopping(),
        ..side
    };
    record.bytes_to_client = send_page(
        client,
        settings.errors.page(status),
        side,
        settings.session.timeouts.client,
        AfterRules::new(&rules.after, request),
        &mut record.status,
    )
    .await;
}

/// Runs the `http-response` rules on a final response head; `Some` with the proxy and
/// the status of the page to answer instead (a `deny`, or 500 for a failed rewrite).
fn response_rules_deny<'a>(
    rules: &ResponseRules<'a>,
    request: &RequestHead,
    head: &mut ResponseHead,
) -> Option<(&'a ProxyRules, u16)> {
    for proxy in &rules.proxies {
        match proxy.rules.on_response(request, &rules.info, head) {
            ResponseVerdict::Continue => {}
            ResponseVerdict::Deny { status } => return Some((proxy, status)),
            ResponseVerdict::InternalError => return Some((proxy, 500)),
        }
    }
    None
}

/// After `101 Switching Protocols`: bytes both ways until both sides close, under
/// `timeout tunnel` (else client/server), as a `mode tcp` session's pump.
async fn tunnel(
    client: Client,
    server: TcpStream,
    kill: crate::tcp_session::KillSwitch,
    settings: &HttpSettings,
    record: &mut HttpLogRecord,
) {
    let Client { stream, buf, .. } = client;
    let pump = Pump::new(&settings.session.timeouts).killed_by(kill);
    let outcome = pump.run(stream, server, buf, settings.session.splice).await;
    record.bytes_to_client += outcome.bytes_to_client;
    if outcome.termination.cause != TerminationCause::Normal {
        record.termination = outcome.termination;
    }
}
