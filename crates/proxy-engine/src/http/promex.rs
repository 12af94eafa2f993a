//! HAProxy 2.6.12's Prometheus exporter (`http-request use-service
//! prometheus-exporter`, `addons/promex/service-prometheus.c`), pure: the request's
//! query ([`parse_query`]) and a [`StatsSnapshot`] in, the page's text out ([`render`]).
//!
//! What is ported: the metric families, their `# HELP`/`# TYPE` lines and their order
//! (process, frontends, backends, servers: family by family, proxies in configuration
//! order inside each), the labels (`proxy`, `server`, then `state`/`code`), which
//! proxies and servers each family skips (non-HTTP proxies for the HTTP families,
//! servers without a running check for the check families, backends without servers
//! for the `agg_*` ones), `NaN` for the fields the CSV export leaves empty, `%f` for
//! the times in seconds, and the query options `scope=` (repeatable; empty: nothing;
//! `*`: all) and `no-maint`, with the 400 HAProxy answers to a malformed query.
//! The values are the stats page's ([`super::stats`]'s fields, the CSV columns), so
//! the two always agree.
//!
//! Not here: the `listener` scope (HAProxy lists listeners only with `option
//! socket-stats`) and the `sticktable` scope (no stick tables): both are accepted and
//! print nothing, as 2.6.12 does without them. The process figures ha-compat does not
//! measure (SSL, compression, pools, peers, tasks...) are printed as 0 (or `NaN` where
//! 2.6.12 prints `NaN`).
//!
//! Label values are escaped as the text format wants (`\\`, `\"`, `\n`); HAProxy does
//! not escape, but its proxy and server names cannot hold those characters.

use std::fmt::Write as _;

use super::stats::{
    self, Field, FrontendState, ProxyMode, ProxyStats, ServerAdmin, ServerRow, ServerRunState,
    StatsSnapshot, F,
};

/// The response head HAProxy's applet sends (`promex_send_headers()`), before the
/// multiplexer's own `connection` header (if any) and the blank line.
pub const RESPONSE_HEAD: &str = "HTTP/1.1 200 OK\r\ncache-control: no-cache\r\ncontent-type: text/plain; version=0.0.4\r\ntransfer-encoding: chunked\r\n";

/// What `%B` counts for the head: HTX's start line block (20 bytes and its three
/// words), each header's name and value, and the end-of-headers block (116, measured
/// on haproxy 2.6.12 with an empty page).
pub const LOGGED_HEAD_BYTES: u64 = 116;

/// Which parts of the page a request asks for (`PROMEX_FL_SCOPE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scopes {
    pub global: bool,
    pub frontend: bool,
    pub listener: bool,
    pub backend: bool,
    pub server: bool,
    pub sticktable: bool,
}

impl Scopes {
    pub const ALL: Scopes = Scopes {
        global: true,
        frontend: true,
        listener: true,
        backend: true,
        server: true,
        sticktable: true,
    };
    pub const NONE: Scopes = Scopes {
        global: false,
        frontend: false,
        listener: false,
        backend: false,
        server: false,
        sticktable: false,
    };
}

/// A request's options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PromexRequest {
    pub scopes: Scopes,
    /// `no-maint`: servers in maintenance are left out.
    pub no_maint: bool,
}

impl Default for PromexRequest {
    fn default() -> Self {
        PromexRequest {
            scopes: Scopes::ALL,
            no_maint: false,
        }
    }
}

/// A query HAProxy answers with its 400 page (an unknown or missing `scope` value, a
/// second `=`, a bad `%` escape).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadQuery;

/// `url_decode(s, 1)`: `+` is a space, `%XX` a byte; a bad escape fails. The text
/// stops at the first NUL, as the C string HAProxy compares.
fn url_decode(raw: &[u8]) -> Result<Vec<u8>, BadQuery> {
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let (Some(h), Some(l)) = (
                    raw.get(i + 1).copied().and_then(hex),
                    raw.get(i + 2).copied().and_then(hex),
                ) else {
                    return Err(BadQuery);
                };
                // Two hex digits: always below 256.
                out.push(u8::try_from(h * 16 + l).unwrap_or(0));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    if let Some(nul) = out.iter().position(|&b| b == 0) {
        out.truncate(nul);
    }
    Ok(out)
}

/// `promex_parse_uri()`: the options in the query string of `uri` (after its first
/// `?`, up to a `#`).
pub fn parse_query(uri: &str) -> Result<PromexRequest, BadQuery> {
    let mut req = PromexRequest {
        scopes: Scopes::NONE,
        no_maint: false,
    };
    let mut any_scope = false;
    let query = match uri.find('?') {
        Some(at) => &uri.as_bytes()[at + 1..],
        None => b"".as_slice(),
    };
    let query = match query.iter().position(|&b| b == 0) {
        Some(nul) => &query[..nul],
        None => query,
    };
    let mut p = 0;
    while p < query.len() && query[p] != b'#' {
        let start = p;
        while p < query.len() && !matches!(query[p], b'=' | b'&' | b'#') {
            p += 1;
        }
        let key = url_decode(&query[start..p])?;
        let mut value = None;
        match query.get(p) {
            Some(b'=') => {
                p += 1;
                let vstart = p;
                while p < query.len() && !matches!(query[p], b'=' | b'&' | b'#') {
                    p += 1;
                }
                let raw = &query[vstart..p];
                match query.get(p) {
                    Some(b'=') => return Err(BadQuery),
                    Some(b'&') => p += 1,
                    _ => {}
                }
                value = Some(url_decode(raw)?);
            }
            Some(b'&') => p += 1,
            _ => {}
        }
        if key == b"scope" {
            any_scope = true;
            let Some(value) = value else {
                return Err(BadQuery);
            };
            let s = &mut req.scopes;
            match value.as_slice() {
                b"" => *s = Scopes::NONE,
                [b'*', ..] => *s = Scopes::ALL,
                b"global" => s.global = true,
                b"server" => s.server = true,
                b"backend" => s.backend = true,
                b"frontend" => s.frontend = true,
                b"listener" => s.listener = true,
                b"sticktable" => s.sticktable = true,
                _ => return Err(BadQuery),
            }
        } else if key == b"no-maint" {
            req.no_maint = true;
        }
    }
    if !any_scope {
        req.scopes = Scopes::ALL;
    }
    Ok(req)
}

// ------------------------------------------------------------------ families

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Gauge,
    Counter,
}

const GAUGE: Kind = Kind::Gauge;
const COUNTER: Kind = Kind::Counter;

/// One metric family: its name after the section's prefix, its `# HELP` text (the
/// stats field's description, or promex's own), its type.
#[derive(Debug, Clone, Copy)]
struct Family {
    name: &'static str,
    help: &'static str,
    kind: Kind,
}

const fn fam(name: &'static str, help: &'static str, kind: Kind) -> Family {
    Family { name, help, kind }
}

// The families in the order haproxy 2.6.12 prints them (recorded from its page: the
// `INF_*` and `ST_F_*` field orders), with its texts.
const PROCESS: &[Family] = &[
    fam("nbthread", "Number of started threads (global.nbthread)", GAUGE),
    fam("nbproc", "Number of started worker processes (historical, always 1)", GAUGE),
    fam("relative_process_id", "Relative worker process number (1)", GAUGE),
    fam("uptime_seconds", "How long ago this worker process was started (seconds)", GAUGE),
    fam("pool_failures_total", "Number of failed pool allocations since this worker was started", COUNTER),
    fam("max_fds", "Hard limit on the number of per-process file descriptors", GAUGE),
    fam("max_sockets", "Hard limit on the number of per-process sockets", GAUGE),
    fam("max_connections", "Hard limit on the number of per-process connections (configured or imposed by Ulimit-n)", GAUGE),
    fam("hard_max_connections", "Hard limit on the number of per-process connections (imposed by Memmax_MB or Ulimit-n)", GAUGE),
    fam("current_connections", "Current number of connections on this worker process", GAUGE),
    fam("connections_total", "Total number of connections on this worker process since started", COUNTER),
    fam("requests_total", "Total number of requests on this worker process since started", COUNTER),
    fam("max_ssl_connections", "Hard limit on the number of per-process SSL endpoints (front+back), 0=unlimited", GAUGE),
    fam("current_ssl_connections", "Current number of SSL endpoints on this worker process (front+back)", GAUGE),
    fam("ssl_connections_total", "Total number of SSL endpoints on this worker process since started (front+back)", COUNTER),
    fam("max_pipes", "Hard limit on the number of pipes for splicing, 0=unlimited", GAUGE),
    fam("pipes_used_total", "Current number of pipes in use in this worker process", COUNTER),
    fam("pipes_free_total", "Current number of allocated and available pipes in this worker process", COUNTER),
    fam("current_connection_rate", "Number of front connections created on this worker process over the last second", GAUGE),
    fam("limit_connection_rate", "Hard limit for ConnRate (global.maxconnrate)", GAUGE),
    fam("max_connection_rate", "Highest ConnRate reached on this worker process since started (in connections per second)", GAUGE),
    fam("current_session_rate", "Number of sessions created on this worker process over the last second", GAUGE),
    fam("limit_session_rate", "Hard limit for SessRate (global.maxsessrate)", GAUGE),
    fam("max_session_rate", "Highest SessRate reached on this worker process since started (in sessions per second)", GAUGE),
    fam("current_ssl_rate", "Number of SSL connections created on this worker process over the last second", GAUGE),
    fam("limit_ssl_rate", "Hard limit for SslRate (global.maxsslrate)", GAUGE),
    fam("max_ssl_rate", "Highest SslRate reached on this worker process since started (in connections per second)", GAUGE),
    fam("current_frontend_ssl_key_rate", "Number of SSL keys created on frontends in this worker process over the last second", GAUGE),
    fam("max_frontend_ssl_key_rate", "Highest SslFrontendKeyRate reached on this worker process since started (in SSL keys per second)", GAUGE),
    fam("frontend_ssl_reuse", "Percent of frontend SSL connections which did not require a new key", GAUGE),
    fam("current_backend_ssl_key_rate", "Number of SSL keys created on backends in this worker process over the last second", GAUGE),
    fam("max_backend_ssl_key_rate", "Highest SslBackendKeyRate reached on this worker process since started (in SSL keys per second)", GAUGE),
    fam("ssl_cache_lookups_total", "Total number of SSL session ID lookups in the SSL session cache on this worker since started", COUNTER),
    fam("ssl_cache_misses_total", "Total number of SSL session ID lookups that didn't find a session in the SSL session cache on this worker since started", COUNTER),
    fam("http_comp_bytes_in_total", "Number of bytes submitted to the HTTP compressor in this worker process over the last second", COUNTER),
    fam("http_comp_bytes_out_total", "Number of bytes emitted by the HTTP compressor in this worker process over the last second", COUNTER),
    fam("limit_http_comp", "Limit of CompressBpsOut beyond which HTTP compression is automatically disabled", GAUGE),
    fam("current_zlib_memory", "Amount of memory currently used by HTTP compression on the current worker process (in bytes)", GAUGE),
    fam("max_zlib_memory", "Limit on the amount of memory used by HTTP compression above which it is automatically disabled (in bytes, see global.maxzlibmem)", GAUGE),
    fam("current_tasks", "Total number of tasks in the current worker process (active + sleeping)", GAUGE),
    fam("current_run_queue", "Total number of active tasks+tasklets in the current worker process", GAUGE),
    fam("idle_time_percent", "Percentage of last second spent waiting in the current worker thread", GAUGE),
    fam("stopping", "1 if the worker process is currently stopping, otherwise zero", GAUGE),
    fam("jobs", "Current number of active jobs on the current worker process (frontend connections, master connections, listeners)", GAUGE),
    fam("unstoppable_jobs", "Current number of unstoppable jobs on the current worker process (master connections)", GAUGE),
    fam("listeners", "Current number of active listeners on the current worker process", GAUGE),
    fam("active_peers", "Current number of verified active peers connections on the current worker process", GAUGE),
    fam("connected_peers", "Current number of peers having passed the connection step on the current worker process", GAUGE),
    fam("dropped_logs_total", "Total number of dropped logs for current worker process since started", COUNTER),
    fam("busy_polling_enabled", "1 if busy-polling is currently in use on the worker process, otherwise zero (config.busy-polling)", GAUGE),
    fam("failed_resolutions", "Total number of failed DNS resolutions in current worker process since started", COUNTER),
    fam("bytes_out_total", "Total number of bytes emitted by current worker process since started", COUNTER),
    fam("spliced_bytes_out_total", "Total number of bytes emitted by current worker process through a kernel pipe since started", COUNTER),
    fam("bytes_out_rate", "Number of bytes emitted by current worker process over the last second", GAUGE),
    fam("recv_logs_total", "Total number of log messages received by log-forwarding listeners on this worker process since started", COUNTER),
    fam("build_info", "Build info", GAUGE),
    fam("max_memory_bytes", "Worker process's hard limit on memory usage in byes (-m on command line)", GAUGE),
    fam("pool_allocated_bytes", "Amount of memory allocated in pools (in bytes)", GAUGE),
    fam("pool_used_bytes", "Amount of pool memory currently used (in bytes)", GAUGE),
    fam("start_time_seconds", "Start time in seconds", GAUGE),
];
const FRONTEND: &[Family] = &[
    fam("current_sessions", "Number of current sessions on the frontend, backend or server", GAUGE),
    fam("max_sessions", "Highest value of current sessions encountered since process started", GAUGE),
    fam("limit_sessions", "Frontend/listener/server's maxconn, backend's fullconn", GAUGE),
    fam("sessions_total", "Total number of sessions since process started", COUNTER),
    fam("bytes_in_total", "Total number of request bytes since process started", COUNTER),
    fam("bytes_out_total", "Total number of response bytes since process started", COUNTER),
    fam("requests_denied_total", "Total number of denied requests since process started", COUNTER),
    fam("responses_denied_total", "Total number of denied responses since process started", COUNTER),
    fam("request_errors_total", "Total number of invalid requests since process started", COUNTER),
    fam("status", "Current status of the service, per state label value.", GAUGE),
    fam("limit_session_rate", "Limit on the number of sessions accepted in a second (frontend only, 'rate-limit sessions' setting)", GAUGE),
    fam("max_session_rate", "Highest value of sessions per second observed since the worker process started", GAUGE),
    fam("http_responses_total", "Total number of HTTP responses with status 100-199 returned by this object since the worker process started", COUNTER),
    fam("http_requests_rate_max", "Highest value of http requests observed since the worker process started", GAUGE),
    fam("http_requests_total", "Total number of HTTP requests processed by this object since the worker process started", COUNTER),
    fam("http_comp_bytes_in_total", "Total number of bytes submitted to the HTTP compressor for this object since the worker process started", COUNTER),
    fam("http_comp_bytes_out_total", "Total number of bytes emitted by the HTTP compressor for this object since the worker process started", COUNTER),
    fam("http_comp_bytes_bypassed_total", "Total number of bytes that bypassed HTTP compression for this object since the worker process started (CPU/memory/bandwidth limitation)", COUNTER),
    fam("http_comp_responses_total", "Total number of HTTP responses that were compressed for this object since the worker process started", COUNTER),
    fam("connections_rate_max", "Highest value of connections per second observed since the worker process started", GAUGE),
    fam("connections_total", "Total number of new connections accepted on this frontend since the worker process started", COUNTER),
    fam("intercepted_requests_total", "Total number of HTTP requests intercepted on the frontend (redirects/stats/services) since the worker process started", COUNTER),
    fam("denied_connections_total", "Total number of incoming connections blocked on a listener/frontend by a tcp-request connection rule since the worker process started", COUNTER),
    fam("denied_sessions_total", "Total number of incoming sessions blocked on a listener/frontend by a tcp-request connection rule since the worker process started", COUNTER),
    fam("failed_header_rewriting_total", "Total number of failed HTTP header rewrites since the worker process started", COUNTER),
    fam("http_cache_lookups_total", "Total number of HTTP requests looked up in the cache on this frontend/backend since the worker process started", COUNTER),
    fam("http_cache_hits_total", "Total number of HTTP requests not found in the cache on this frontend/backend since the worker process started", COUNTER),
    fam("internal_errors_total", "Total number of internal errors since process started", COUNTER),
];
const BACKEND: &[Family] = &[
    fam("current_queue", "Number of current queued connections", GAUGE),
    fam("max_queue", "Highest value of queued connections encountered since process started", GAUGE),
    fam("current_sessions", "Number of current sessions on the frontend, backend or server", GAUGE),
    fam("max_sessions", "Highest value of current sessions encountered since process started", GAUGE),
    fam("limit_sessions", "Frontend/listener/server's maxconn, backend's fullconn", GAUGE),
    fam("sessions_total", "Total number of sessions since process started", COUNTER),
    fam("bytes_in_total", "Total number of request bytes since process started", COUNTER),
    fam("bytes_out_total", "Total number of response bytes since process started", COUNTER),
    fam("requests_denied_total", "Total number of denied requests since process started", COUNTER),
    fam("responses_denied_total", "Total number of denied responses since process started", COUNTER),
    fam("connection_errors_total", "Total number of failed connections to server since the worker process started", COUNTER),
    fam("response_errors_total", "Total number of invalid responses since the worker process started", COUNTER),
    fam("retry_warnings_total", "Total number of server connection retries since the worker process started", COUNTER),
    fam("redispatch_warnings_total", "Total number of server redispatches due to connection failures since the worker process started", COUNTER),
    fam("status", "Current status of the service, per state label value.", GAUGE),
    fam("weight", "Server's effective weight, or sum of active servers' effective weights for a backend", GAUGE),
    fam("active_servers", "Total number of active UP servers with a non-zero weight", GAUGE),
    fam("backup_servers", "Total number of backup UP servers with a non-zero weight", GAUGE),
    fam("check_up_down_total", "Total number of failed checks causing UP to DOWN server transitions, per server/backend, since the worker process started", COUNTER),
    fam("check_last_change_seconds", "How long ago the last server state changed, in seconds", GAUGE),
    fam("downtime_seconds_total", "Total time spent in DOWN state, for server or backend", COUNTER),
    fam("loadbalanced_total", "Total number of requests routed by load balancing since the worker process started (ignores queue pop and stickiness)", COUNTER),
    fam("max_session_rate", "Highest value of sessions per second observed since the worker process started", GAUGE),
    fam("http_responses_total", "Total number of HTTP responses with status 100-199 returned by this object since the worker process started", COUNTER),
    fam("http_requests_total", "Total number of HTTP requests processed by this object since the worker process started", COUNTER),
    fam("client_aborts_total", "Total number of requests or connections aborted by the client since the worker process started", COUNTER),
    fam("server_aborts_total", "Total number of requests or connections aborted by the server since the worker process started", COUNTER),
    fam("http_comp_bytes_in_total", "Total number of bytes submitted to the HTTP compressor for this object since the worker process started", COUNTER),
    fam("http_comp_bytes_out_total", "Total number of bytes emitted by the HTTP compressor for this object since the worker process started", COUNTER),
    fam("http_comp_bytes_bypassed_total", "Total number of bytes that bypassed HTTP compression for this object since the worker process started (CPU/memory/bandwidth limitation)", COUNTER),
    fam("http_comp_responses_total", "Total number of HTTP responses that were compressed for this object since the worker process started", COUNTER),
    fam("last_session_seconds", "How long ago some traffic was seen on this object on this worker process, in seconds", GAUGE),
    fam("queue_time_average_seconds", "Avg. queue time for last 1024 successful connections.", GAUGE),
    fam("connect_time_average_seconds", "Avg. connect time for last 1024 successful connections.", GAUGE),
    fam("response_time_average_seconds", "Avg. response time for last 1024 successful connections.", GAUGE),
    fam("total_time_average_seconds", "Avg. total time for last 1024 successful connections.", GAUGE),
    fam("failed_header_rewriting_total", "Total number of failed HTTP header rewrites since the worker process started", COUNTER),
    fam("connection_attempts_total", "Total number of outgoing connection attempts on this backend/server since the worker process started", COUNTER),
    fam("connection_reuses_total", "Total number of reused connection on this backend/server since the worker process started", COUNTER),
    fam("http_cache_lookups_total", "Total number of HTTP requests looked up in the cache on this frontend/backend since the worker process started", COUNTER),
    fam("http_cache_hits_total", "Total number of HTTP requests not found in the cache on this frontend/backend since the worker process started", COUNTER),
    fam("max_queue_time_seconds", "Maximum observed time spent in the queue", GAUGE),
    fam("max_connect_time_seconds", "Maximum observed time spent waiting for a connection to complete", GAUGE),
    fam("max_response_time_seconds", "Maximum observed time spent waiting for a server response", GAUGE),
    fam("max_total_time_seconds", "Maximum observed total request+response time (request+queue+connect+response+processing)", GAUGE),
    fam("internal_errors_total", "Total number of internal errors since process started", COUNTER),
    fam("uweight", "Server's user weight, or sum of active servers' user weights for a backend", GAUGE),
    fam("agg_server_status", "Backend's aggregated gauge of servers' status", GAUGE),
    fam("agg_server_check_status", "Backend's aggregated gauge of servers' state check status", GAUGE),
    fam("agg_check_status", "Backend's aggregated gauge of servers' state check status", GAUGE),
];
const SERVER: &[Family] = &[
    fam("current_queue", "Number of current queued connections", GAUGE),
    fam("max_queue", "Highest value of queued connections encountered since process started", GAUGE),
    fam("current_sessions", "Number of current sessions on the frontend, backend or server", GAUGE),
    fam("max_sessions", "Highest value of current sessions encountered since process started", GAUGE),
    fam("limit_sessions", "Frontend/listener/server's maxconn, backend's fullconn", GAUGE),
    fam("sessions_total", "Total number of sessions since process started", COUNTER),
    fam("bytes_in_total", "Total number of request bytes since process started", COUNTER),
    fam("bytes_out_total", "Total number of response bytes since process started", COUNTER),
    fam("responses_denied_total", "Total number of denied responses since process started", COUNTER),
    fam("connection_errors_total", "Total number of failed connections to server since the worker process started", COUNTER),
    fam("response_errors_total", "Total number of invalid responses since the worker process started", COUNTER),
    fam("retry_warnings_total", "Total number of server connection retries since the worker process started", COUNTER),
    fam("redispatch_warnings_total", "Total number of server redispatches due to connection failures since the worker process started", COUNTER),
    fam("status", "Current status of the service, per state label value.", GAUGE),
    fam("weight", "Server's effective weight, or sum of active servers' effective weights for a backend", GAUGE),
    fam("check_failures_total", "Total number of failed individual health checks per server/backend, since the worker process started", COUNTER),
    fam("check_up_down_total", "Total number of failed checks causing UP to DOWN server transitions, per server/backend, since the worker process started", COUNTER),
    fam("check_last_change_seconds", "How long ago the last server state changed, in seconds", GAUGE),
    fam("downtime_seconds_total", "Total time spent in DOWN state, for server or backend", COUNTER),
    fam("queue_limit", "Limit on the number of connections in queue, for servers only (maxqueue argument)", GAUGE),
    fam("current_throttle", "Throttling ratio applied to a server's maxconn and weight during the slowstart period (0 to 100%)", GAUGE),
    fam("loadbalanced_total", "Total number of requests routed by load balancing since the worker process started (ignores queue pop and stickiness)", COUNTER),
    fam("max_session_rate", "Highest value of sessions per second observed since the worker process started", GAUGE),
    fam("check_status", "Status of last health check, per state label value.", GAUGE),
    fam("check_code", "layer5-7 code, if available of the last health check.", GAUGE),
    fam("check_duration_seconds", "Total duration of the latest server health check, in seconds.", GAUGE),
    fam("http_responses_total", "Total number of HTTP responses with status 100-199 returned by this object since the worker process started", COUNTER),
    fam("client_aborts_total", "Total number of requests or connections aborted by the client since the worker process started", COUNTER),
    fam("server_aborts_total", "Total number of requests or connections aborted by the server since the worker process started", COUNTER),
    fam("last_session_seconds", "How long ago some traffic was seen on this object on this worker process, in seconds", GAUGE),
    fam("queue_time_average_seconds", "Avg. queue time for last 1024 successful connections.", GAUGE),
    fam("connect_time_average_seconds", "Avg. connect time for last 1024 successful connections.", GAUGE),
    fam("response_time_average_seconds", "Avg. response time for last 1024 successful connections.", GAUGE),
    fam("total_time_average_seconds", "Avg. total time for last 1024 successful connections.", GAUGE),
    fam("failed_header_rewriting_total", "Total number of failed HTTP header rewrites since the worker process started", COUNTER),
    fam("connection_attempts_total", "Total number of outgoing connection attempts on this backend/server since the worker process started", COUNTER),
    fam("connection_reuses_total", "Total number of reused connection on this backend/server since the worker process started", COUNTER),
    fam("idle_connections_current", "Current number of idle connections available for reuse on this server", GAUGE),
    fam("idle_connections_limit", "Limit on the number of available idle connections on this server (server 'pool_max_conn' directive)", GAUGE),
    fam("max_queue_time_seconds", "Maximum observed time spent in the queue", GAUGE),
    fam("max_connect_time_seconds", "Maximum observed time spent waiting for a connection to complete", GAUGE),
    fam("max_response_time_seconds", "Maximum observed time spent waiting for a server response", GAUGE),
    fam("max_total_time_seconds", "Maximum observed total request+response time (request+queue+connect+response+processing)", GAUGE),
    fam("internal_errors_total", "Total number of internal errors since process started", COUNTER),
    fam("unsafe_idle_connections_current", "Current number of unsafe idle connections", GAUGE),
    fam("safe_idle_connections_current", "Current number of safe idle connections", GAUGE),
    fam("used_connections_current", "Current number of connections in use", GAUGE),
    fam("need_connections_current", "Estimated needed number of connections", GAUGE),
    fam("uweight", "Server's user weight, or sum of active servers' user weights for a backend", GAUGE),
];

/// The check statuses `check_status` and `agg_check_status` list: those whose result
/// is at least `CHK_RES_FAILED`, in `HCHK_STATUS_*` order.
const CHECK_STATES: [&str; 16] = [
    "HANA", "SOCKERR", "L4OK", "L4TOUT", "L4CON", "L6OK", "L6TOUT", "L6RSP", "L7TOUT", "L7RSP",
    "L7OK", "L7OKC", "L7STS", "PROCERR", "PROCTOUT", "PROCOK",
];

/// `promex_srv_st`.
const SERVER_STATES: [&str; 5] = ["DOWN", "UP", "MAINT", "DRAIN", "NOLB"];

/// `promex_hrsp_code`.
const HTTP_CODES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "other"];

/// A sample's value as `promex_metric_to_str()` prints it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Value {
    Int(i64),
    /// `%f`.
    Float(f64),
    /// An empty field (or a text one).
    NaN,
}

impl Value {
    fn count(v: u64) -> Value {
        Value::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }

    fn of(f: Option<&Field>) -> Value {
        match f {
            Some(Field::U(v)) => Value::count(*v),
            Some(Field::S(v)) => Value::Int(*v),
            _ => Value::NaN,
        }
    }

    /// A field in milliseconds, in seconds.
    fn seconds(f: Option<&Field>) -> Value {
        match f {
            Some(Field::U(v)) => Value::Float(*v as f64 / 1000.0),
            Some(Field::S(v)) => Value::Float(*v as f64 / 1000.0),
            _ => Value::Float(0.0),
        }
    }
}

/// Label values as the text format wants them.
fn escape_label(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// The page being written: a family's `# HELP`/`# TYPE` lines go before its first
/// sample (none without samples).
struct Page {
    text: String,
    prefix: &'static str,
    family: Family,
    header_due: bool,
}

impl Page {
    fn start(&mut self, prefix: &'static str, family: Family) {
        self.prefix = prefix;
        self.family = family;
        self.header_due = true;
    }

    fn sample(&mut self, labels: &[(&str, &str)], value: Value) {
        let (prefix, f) = (self.prefix, self.family);
        if self.header_due {
            let kind = match f.kind {
                Kind::Gauge => "gauge",
                Kind::Counter => "counter",
            };
            let _ = write!(
                self.text,
                "# HELP {prefix}{name} {help}\n# TYPE {prefix}{name} {kind}\n",
                name = f.name,
                help = f.help
            );
            self.header_due = false;
        }
        let _ = write!(self.text, "{prefix}{}", f.name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (name, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let _ = write!(self.text, "{name}=\"");
                escape_label(&mut self.text, value);
                self.text.push('"');
            }
            self.text.push('}');
        }
        match value {
            Value::Int(v) => {
                let _ = writeln!(self.text, " {v}");
            }
            Value::Float(v) => {
                let _ = writeln!(self.text, " {v:.6}");
            }
            Value::NaN => self.text.push_str(" NaN\n"),
        }
    }
}

/// The stats field a plain family reads (`promex_st_metrics`), and whether it is a
/// time in milliseconds printed in seconds.
fn st_field(name: &str) -> Option<(F, bool)> {
    let plain = |f| Some((f, false));
    let secs = |f| Some((f, true));
    match name {
        "current_queue" => plain(F::Qcur),
        "max_queue" => plain(F::Qmax),
        "current_sessions" => plain(F::Scur),
        "max_sessions" => plain(F::Smax),
        "limit_sessions" => plain(F::Slim),
        "sessions_total" => plain(F::Stot),
        "bytes_in_total" => plain(F::Bin),
        "bytes_out_total" => plain(F::Bout),
        "requests_denied_total" => plain(F::Dreq),
        "responses_denied_total" => plain(F::Dresp),
        "request_errors_total" => plain(F::Ereq),
        "connection_errors_total" => plain(F::Econ),
        "response_errors_total" => plain(F::Eresp),
        "retry_warnings_total" => plain(F::Wretr),
        "redispatch_warnings_total" => plain(F::Wredis),
        "weight" => plain(F::Weight),
        "active_servers" => plain(F::Act),
        "backup_servers" => plain(F::Bck),
        "check_failures_total" => plain(F::Chkfail),
        "check_up_down_total" => plain(F::Chkdown),
        "check_last_change_seconds" => plain(F::Lastchg),
        "downtime_seconds_total" => plain(F::Downtime),
        "queue_limit" => plain(F::Qlimit),
        "current_throttle" => plain(F::Throttle),
        "loadbalanced_total" => plain(F::Lbtot),
        "limit_session_rate" => plain(F::RateLim),
        "max_session_rate" => plain(F::RateMax),
        "http_requests_rate_max" => plain(F::ReqRateMax),
        "http_requests_total" => plain(F::ReqTot),
        "client_aborts_total" => plain(F::CliAbrt),
        "server_aborts_total" => plain(F::SrvAbrt),
        "http_comp_bytes_in_total" => plain(F::CompIn),
        "http_comp_bytes_out_total" => plain(F::CompOut),
        "http_comp_bytes_bypassed_total" => plain(F::CompByp),
        "http_comp_responses_total" => plain(F::CompRsp),
        "last_session_seconds" => plain(F::Lastsess),
        "queue_time_average_seconds" => secs(F::Qtime),
        "connect_time_average_seconds" => secs(F::Ctime),
        "response_time_average_seconds" => secs(F::Rtime),
        "total_time_average_seconds" => secs(F::Ttime),
        "connections_rate_max" => plain(F::ConnRateMax),
        "connections_total" => plain(F::ConnTot),
        "intercepted_requests_total" => plain(F::Intercepted),
        "denied_connections_total" => plain(F::Dcon),
        "denied_sessions_total" => plain(F::Dses),
        "failed_header_rewriting_total" => plain(F::Wrew),
        "connection_attempts_total" => plain(F::Connect),
        "connection_reuses_total" => plain(F::Reuse),
        "http_cache_lookups_total" => plain(F::CacheLookups),
        "http_cache_hits_total" => plain(F::CacheHits),
        "idle_connections_current" => plain(F::SrvIcur),
        "idle_connections_limit" => plain(F::SrvIlim),
        "max_queue_time_seconds" => secs(F::QtimeMax),
        "max_connect_time_seconds" => secs(F::CtimeMax),
        "max_response_time_seconds" => secs(F::RtimeMax),
        "max_total_time_seconds" => secs(F::TtimeMax),
        "internal_errors_total" => plain(F::Eint),
        "unsafe_idle_connections_current" => plain(F::IdleConnCur),
        "safe_idle_connections_current" => plain(F::SafeConnCur),
        "used_connections_current" => plain(F::UsedConnCur),
        "need_connections_current" => plain(F::NeedConnEst),
        "uweight" => plain(F::Uweight),
        _ => None,
    }
}

fn read(fields: &[Field], name: &str) -> Value {
    match st_field(name) {
        Some((f, false)) => Value::of(fields.get(f as usize)),
        Some((f, true)) => Value::seconds(fields.get(f as usize)),
        None => Value::NaN,
    }
}

/// The families only `mode http` proxies have (the others are skipped).
fn http_only(name: &str) -> bool {
    matches!(
        name,
        "http_requests_rate_max"
            | "http_requests_total"
            | "intercepted_requests_total"
            | "http_cache_lookups_total"
            | "http_cache_hits_total"
            | "http_comp_bytes_in_total"
            | "http_comp_bytes_out_total"
            | "http_comp_bytes_bypassed_total"
            | "http_comp_responses_total"
    )
}

/// `promex_srv_status()`.
fn server_state(sv: &ServerRow) -> &'static str {
    if matches!(sv.admin, ServerAdmin::Maint | ServerAdmin::MaintVia(_)) {
        return "MAINT";
    }
    match sv.run {
        ServerRunState::Running | ServerRunState::Starting => {
            if sv.admin == ServerAdmin::Drain {
                "DRAIN"
            } else {
                "UP"
            }
        }
        ServerRunState::Stopping => "NOLB",
        ServerRunState::Stopped => "DOWN",
    }
}

fn check_state(sv: &ServerRow) -> Option<&'static str> {
    sv.check.as_ref().and_then(|c| c.status).map(|s| s.tag())
}

fn responses(fields: &[Field], code: usize) -> Value {
    let f = [
        F::Hrsp1xx,
        F::Hrsp2xx,
        F::Hrsp3xx,
        F::Hrsp4xx,
        F::Hrsp5xx,
        F::HrspOther,
    ][code];
    Value::of(fields.get(f as usize))
}

fn process_value(name: &str, snap: &StatsSnapshot) -> Value {
    let p = &snap.process;
    let fronts = || snap.proxies.iter().filter_map(|px| px.frontend.as_ref());
    let sum = |get: fn(&stats::FrontendRow) -> u64| fronts().map(get).sum::<u64>();
    match name {
        "nbthread" => Value::count(u64::from(p.nbthread.max(1))),
        "nbproc" | "relative_process_id" => Value::Int(1),
        "uptime_seconds" => Value::count(p.uptime_secs),
        "max_fds" => Value::count(p.ulimit_n),
        "max_sockets" => Value::count(p.maxsock),
        "max_connections" | "hard_max_connections" => Value::count(p.maxconn),
        "current_connections" => Value::count(sum(|f| u64::from(f.scur))),
        "connections_total" => Value::count(sum(|f| f.conn_tot)),
        "requests_total" => Value::count(sum(|f| f.req_tot)),
        "max_pipes" => Value::count(p.maxpipes),
        "pipes_used_total" => Value::count(p.pipes_used),
        "pipes_free_total" => Value::count(p.pipes_free),
        "current_connection_rate" => Value::count(sum(|f| u64::from(f.conn_rate))),
        "max_connection_rate" => Value::count(sum(|f| u64::from(f.conn_rate_max))),
        "current_session_rate" => Value::count(sum(|f| u64::from(f.rate))),
        "max_session_rate" => Value::count(sum(|f| u64::from(f.rate_max))),
        // Debian's 2.6.12 compresses with libslz: no zlib memory to report.
        "current_zlib_memory" | "max_zlib_memory" => Value::NaN,
        "current_tasks" => Value::count(p.tasks),
        "current_run_queue" => Value::count(p.run_queue),
        "idle_time_percent" => Value::count(u64::from(p.idle_pct)),
        "stopping" => Value::Int(i64::from(p.stopping)),
        "bytes_out_rate" => Value::count(p.bytes_out_rate),
        "max_memory_bytes" => Value::count(p.memmax_mb.saturating_mul(1024 * 1024)),
        "start_time_seconds" => Value::count(p.start_time_secs),
        _ => Value::Int(0),
    }
}

/// The page for `req`, from `snap` (proxies in configuration order).
pub fn render(snap: &StatsSnapshot, req: &PromexRequest) -> String {
    let mut page = Page {
        text: String::new(),
        prefix: "",
        family: PROCESS[0],
        header_due: false,
    };
    let scopes = req.scopes;
    if scopes.global {
        for f in PROCESS {
            page.start("haproxy_process_", *f);
            if f.name == "build_info" {
                page.sample(&[("version", &snap.process.version)], Value::Int(1));
            } else {
                page.sample(&[], process_value(f.name, snap));
            }
        }
    }
    let frontends: Vec<(&ProxyStats, Vec<Field>)> = snap
        .proxies
        .iter()
        .filter_map(|px| Some((px, stats::frontend_fields(px, px.frontend.as_ref()?))))
        .collect();
    if scopes.frontend {
        for f in FRONTEND {
            page.start("haproxy_frontend_", *f);
            if f.name == "http_responses_total" {
                for (code, label) in HTTP_CODES.iter().enumerate() {
                    for (px, fields) in &frontends {
                        if px.mode == ProxyMode::Http {
                            page.sample(
                                &[("proxy", &px.name), ("code", label)],
                                responses(fields, code),
                            );
                        }
                    }
                }
                continue;
            }
            for (px, fields) in &frontends {
                if f.name == "status" {
                    let up = px
                        .frontend
                        .as_ref()
                        .is_some_and(|fe| fe.state != FrontendState::Stopped);
                    for (state, is) in [("DOWN", !up), ("UP", up)] {
                        page.sample(
                            &[("proxy", &px.name), ("state", state)],
                            Value::Int(i64::from(is)),
                        );
                    }
                    continue;
                }
                if http_only(f.name) && px.mode != ProxyMode::Http {
                    continue;
                }
                page.sample(&[("proxy", &px.name)], read(fields, f.name));
            }
        }
    }
    let backends: Vec<(&ProxyStats, &stats::BackendSide, Vec<Field>)> = snap
        .proxies
        .iter()
        .filter_map(|px| {
            let be = px.backend.as_ref()?;
            Some((px, be, stats::backend_fields(px, be)))
        })
        .collect();
    if scopes.backend {
        for f in BACKEND {
            page.start("haproxy_backend_", *f);
            if f.name == "http_responses_total" {
                for (code, label) in HTTP_CODES.iter().enumerate() {
                    for (px, _, fields) in &backends {
                        if px.mode == ProxyMode::Http {
                            page.sample(
                                &[("proxy", &px.name), ("code", label)],
                                responses(fields, code),
                            );
                        }
                    }
                }
                continue;
            }
            for (px, be, fields) in &backends {
                let proxy = ("proxy", px.name.as_str());
                match f.name {
                    "status" => {
                        let up = be.row.weight > 0 || be.servers.is_empty();
                        for (state, is) in [("DOWN", !up), ("UP", up)] {
                            page.sample(&[proxy, ("state", state)], Value::Int(i64::from(is)));
                        }
                    }
                    "agg_server_status" | "agg_server_check_status" => {
                        if be.servers.is_empty() {
                            continue;
                        }
                        for state in SERVER_STATES {
                            let n = be.servers.iter().filter(|s| server_state(s) == state);
                            page.sample(&[proxy, ("state", state)], Value::count(n.count() as u64));
                        }
                    }
                    "agg_check_status" => {
                        if be.servers.is_empty() {
                            continue;
                        }
                        for state in CHECK_STATES {
                            let n = be.servers.iter().filter(|s| check_state(s) == Some(state));
                            page.sample(&[proxy, ("state", state)], Value::count(n.count() as u64));
                        }
                    }
                    name if http_only(name) && px.mode != ProxyMode::Http => {}
                    name => page.sample(&[proxy], read(fields, name)),
                }
            }
        }
    }
    if scopes.server {
        for f in SERVER {
            page.start("haproxy_server_", *f);
            let codes: &[&str] = if f.name == "http_responses_total" {
                &HTTP_CODES
            } else {
                &[""]
            };
            for (code, label) in codes.iter().enumerate() {
                for (px, be, _) in &backends {
                    if f.name == "http_responses_total" && px.mode != ProxyMode::Http {
                        continue;
                    }
                    for sv in &be.servers {
                        if req.no_maint
                            && matches!(sv.admin, ServerAdmin::Maint | ServerAdmin::MaintVia(_))
                        {
                            continue;
                        }
                        let fields = stats::server_fields(px, sv);
                        let ids = [("proxy", px.name.as_str()), ("server", sv.name.as_str())];
                        server_samples(&mut page, f.name, &ids, sv, &fields, label, code);
                    }
                }
            }
        }
    }
    page.text
}

fn server_samples(
    page: &mut Page,
    name: &str,
    ids: &[(&str, &str); 2],
    sv: &ServerRow,
    fields: &[Field],
    code_label: &str,
    code: usize,
) {
    fn with<'a>(
        ids: &[(&'a str, &'a str); 2],
        extra: (&'a str, &'a str),
    ) -> [(&'a str, &'a str); 3] {
        [ids[0], ids[1], extra]
    }
    match name {
        "status" => {
            let now = server_state(sv);
            for state in SERVER_STATES {
                page.sample(
                    &with(ids, ("state", state)),
                    Value::Int(i64::from(now == state)),
                );
            }
        }
        "http_responses_total" => {
            page.sample(&with(ids, ("code", code_label)), responses(fields, code))
        }
        "check_status" => {
            if sv.check.is_none() {
                return;
            }
            let now = check_state(sv);
            for state in CHECK_STATES {
                page.sample(
                    &with(ids, ("state", state)),
                    Value::Int(i64::from(now == Some(state))),
                );
            }
        }
        "check_code" => {
            let Some(c) = &sv.check else { return };
            let code = if stats::shows_code(c.status) {
                c.code.unwrap_or(0)
            } else {
                0
            };
            page.sample(ids, Value::count(u64::from(code)));
        }
        "check_duration_seconds" => {
            let Some(c) = sv.check.as_ref().filter(|c| c.status.is_some()) else {
                return;
            };
            page.sample(ids, Value::Float(c.duration_ms as f64 / 1000.0));
        }
        name => page.sample(ids, read(fields, name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::CheckStatus;
    use crate::http::stats::{BackendRow, BackendSide, FrontendRow, ProcessInfo, ServerCheck};
    use proptest::prelude::*;

    fn check(status: Option<CheckStatus>) -> ServerCheck {
        ServerCheck {
            rise: 2,
            fall: 3,
            health: 0,
            in_progress: false,
            status,
            code: None,
            duration_ms: 12,
            info: String::new(),
            failed_checks: 1,
            down_transitions: 1,
            downtime: 5,
        }
    }

    fn server(name: &str, admin: ServerAdmin, run: ServerRunState) -> ServerRow {
        ServerRow {
            name: name.to_string(),
            admin,
            run,
            weight: 1,
            uweight: 1,
            lastsess: -1,
            ..ServerRow::default()
        }
    }

    fn snapshot() -> StatsSnapshot {
        let mut s1 = server("s1", ServerAdmin::Ready, ServerRunState::Running);
        s1.check = Some(check(Some(CheckStatus::L4Ok)));
        let mut s2 = server("s2", ServerAdmin::Maint, ServerRunState::Running);
        s2.weight = 3;
        s2.uweight = 3;
        StatsSnapshot {
            process: ProcessInfo {
                version: "2.6.12".into(),
                ..ProcessInfo::default()
            },
            proxies: vec![
                ProxyStats {
                    name: "web".into(),
                    iid: 1,
                    mode: ProxyMode::Http,
                    description: None,
                    frontend: Some(FrontendRow {
                        slim: 100,
                        ..FrontendRow::default()
                    }),
                    backend: None,
                },
                ProxyStats {
                    name: "tcp".into(),
                    iid: 2,
                    mode: ProxyMode::Tcp,
                    description: None,
                    frontend: Some(FrontendRow::default()),
                    backend: Some(BackendSide {
                        servers: vec![],
                        row: BackendRow::default(),
                    }),
                },
                ProxyStats {
                    name: "be".into(),
                    iid: 3,
                    mode: ProxyMode::Http,
                    description: None,
                    frontend: None,
                    backend: Some(BackendSide {
                        servers: vec![s1, s2],
                        row: BackendRow {
                            weight: 1,
                            act: 1,
                            ..BackendRow::default()
                        },
                    }),
                },
            ],
        }
    }

    fn lines<'a>(page: &'a str, family: &str) -> Vec<&'a str> {
        page.lines()
            .filter(|l| l.split(['{', ' ']).next() == Some(family))
            .collect()
    }

    /// The answers measured on haproxy 2.6.12 (200 with what, or its 400).
    #[test]
    fn query_options_as_promex_parse_uri_reads_them() {
        let all = PromexRequest::default();
        assert_eq!(parse_query("/metrics"), Ok(all));
        assert_eq!(parse_query("/metrics?"), Ok(all));
        assert_eq!(parse_query("/metrics?foo=bar&x"), Ok(all));
        let only = |f: fn(&mut Scopes)| {
            let mut scopes = Scopes::NONE;
            f(&mut scopes);
            Ok(PromexRequest {
                scopes,
                no_maint: false,
            })
        };
        assert_eq!(parse_query("/m?scope=global"), only(|s| s.global = true));
        assert_eq!(
            parse_query("/m?scope=server&scope=backend"),
            only(|s| {
                s.server = true;
                s.backend = true;
            })
        );
        // Decoded (`%67`, `+`), cut at a NUL and at `#`.
        assert_eq!(parse_query("/m?scope=%67lobal"), only(|s| s.global = true));
        assert_eq!(
            parse_query("/m?scope=global%00x"),
            only(|s| s.global = true)
        );
        assert_eq!(parse_query("/m?scope=global#x"), only(|s| s.global = true));
        assert_eq!(parse_query("/m?scope="), only(|_| {}));
        assert_eq!(parse_query("/m?scope=global&scope="), only(|_| {}));
        assert_eq!(parse_query("/m?scope=*x"), only(|s| *s = Scopes::ALL));
        assert_eq!(
            parse_query("/m?no-maint=1&scope=server"),
            Ok(PromexRequest {
                scopes: only(|s| s.server = true).unwrap().scopes,
                no_maint: true
            })
        );
        for bad in [
            "/m?scope",
            "/m?scope=foo",
            "/m?scope=a=b",
            "/m?x=%zz",
            "/m?scope=Global",
        ] {
            assert_eq!(parse_query(bad), Err(BadQuery), "{bad}");
        }
    }

    #[test]
    fn families_labels_and_skips() {
        let page = render(&snapshot(), &PromexRequest::default());
        // A header pair before each family's first sample, once.
        assert!(page.contains(
            "# HELP haproxy_frontend_status Current status of the service, per state label value.\n# TYPE haproxy_frontend_status gauge\nhaproxy_frontend_status{proxy=\"web\",state=\"DOWN\"} 0\n"
        ));
        assert_eq!(
            page.matches("# TYPE haproxy_server_http_responses_total ")
                .count(),
            1
        );
        // HTTP families skip the tcp proxy; codes outer, proxies inner.
        assert_eq!(
            lines(&page, "haproxy_frontend_http_requests_total"),
            ["haproxy_frontend_http_requests_total{proxy=\"web\"} 0"]
        );
        assert_eq!(
            lines(&page, "haproxy_server_http_responses_total")[..3],
            [
                "haproxy_server_http_responses_total{proxy=\"be\",server=\"s1\",code=\"1xx\"} 0",
                "haproxy_server_http_responses_total{proxy=\"be\",server=\"s2\",code=\"1xx\"} 0",
                "haproxy_server_http_responses_total{proxy=\"be\",server=\"s1\",code=\"2xx\"} 0",
            ]
        );
        // A backend without servers: no agg_* samples, UP.
        assert_eq!(
            lines(&page, "haproxy_backend_agg_server_status")
                .iter()
                .filter(|l| l.contains("\"tcp\""))
                .count(),
            0
        );
        assert!(page.contains("haproxy_backend_status{proxy=\"tcp\",state=\"UP\"} 1\n"));
        assert!(
            page.contains("haproxy_backend_agg_server_status{proxy=\"be\",state=\"MAINT\"} 1\n")
        );
        assert!(page.contains("haproxy_backend_agg_check_status{proxy=\"be\",state=\"L4OK\"} 1\n"));
        // Check families for checked servers only; empty fields are NaN; times in seconds.
        assert_eq!(lines(&page, "haproxy_server_check_status").len(), 16);
        assert_eq!(
            lines(&page, "haproxy_server_check_duration_seconds"),
            ["haproxy_server_check_duration_seconds{proxy=\"be\",server=\"s1\"} 0.012000"]
        );
        assert!(
            page.contains("haproxy_server_check_failures_total{proxy=\"be\",server=\"s2\"} NaN\n")
        );
        assert!(
            page.contains("haproxy_server_status{proxy=\"be\",server=\"s2\",state=\"MAINT\"} 1\n")
        );
        assert!(page.contains("haproxy_server_weight{proxy=\"be\",server=\"s2\"} 3\n"));
        assert!(page.contains("haproxy_process_build_info{version=\"2.6.12\"} 1\n"));
        assert!(page.contains("haproxy_process_current_zlib_memory NaN\n"));
        assert!(
            page.contains("haproxy_backend_queue_time_average_seconds{proxy=\"be\"} 0.000000\n")
        );
    }

    #[test]
    fn scopes_and_no_maint() {
        let snap = snapshot();
        let none = PromexRequest {
            scopes: Scopes::NONE,
            no_maint: false,
        };
        assert_eq!(render(&snap, &none), "");
        let servers = PromexRequest {
            scopes: Scopes {
                server: true,
                ..Scopes::NONE
            },
            no_maint: true,
        };
        let page = render(&snap, &servers);
        assert!(page
            .lines()
            .all(|l| l.starts_with("# ") || l.starts_with("haproxy_server_")));
        assert!(!page.contains("s2"));
        assert!(page.contains("server=\"s1\""));
    }

    #[test]
    fn label_values_are_escaped() {
        let mut snap = snapshot();
        snap.proxies[0].name = "a\"b\\c\nd".into();
        let page = render(&snap, &PromexRequest::default());
        assert!(page.contains("haproxy_frontend_current_sessions{proxy=\"a\\\"b\\\\c\\nd\"} 0\n"));
    }

    /// What the text format accepts for a sample line: `name{l="v",...} value`, the
    /// values' escapes complete.
    fn well_formed(line: &str) -> bool {
        let Some((series, value)) = line.rsplit_once(' ') else {
            return false;
        };
        if value != "NaN" && value.parse::<f64>().is_err() {
            return false;
        }
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        {
            return false;
        }
        let mut rest = &series[name_end..];
        if rest.is_empty() {
            return true;
        }
        rest = &rest[1..];
        loop {
            let Some(eq) = rest.find("=\"") else {
                return false;
            };
            let mut chars = rest[eq + 2..].char_indices();
            let close = loop {
                match chars.next() {
                    Some((_, '\\')) => {
                        if !matches!(chars.next(), Some((_, '\\' | '"' | 'n'))) {
                            return false;
                        }
                    }
                    Some((i, '"')) => break i,
                    Some((_, '\n')) | None => return false,
                    Some(_) => {}
                }
            };
            rest = &rest[eq + 2 + close + 1..];
            match rest.chars().next() {
                Some(',') => rest = &rest[1..],
                Some('}') => return rest.len() == 1,
                _ => return false,
            }
        }
    }

    proptest! {
        #[test]
        fn query_parsing_never_panics(uri in "[/?=&#%+a-z0-9*\\x00-\\x7f]{0,60}") {
            let _ = parse_query(&uri);
        }

        #[test]
        fn any_names_render_to_well_formed_lines(
            proxy in "\\PC{0,12}",
            server in "[ -~\n]{0,12}",
            version in "[ -~]{0,10}",
            code in proptest::option::of(0u32..1000),
            admin in 0u8..4,
            mode_http in any::<bool>(),
        ) {
            let mut snap = snapshot();
            snap.process.version = version;
            snap.proxies[0].name = proxy.clone();
            snap.proxies[2].name = proxy;
            if let Some(side) = snap.proxies[2].backend.as_mut() {
                side.servers[0].name = server;
                side.servers[0].admin = match admin {
                    0 => ServerAdmin::Ready,
                    1 => ServerAdmin::Drain,
                    2 => ServerAdmin::Maint,
                    _ => ServerAdmin::MaintVia("x/y".into()),
                };
                if let Some(c) = side.servers[0].check.as_mut() {
                    c.code = code;
                    c.status = Some(CheckStatus::L7Sts);
                }
            }
            if !mode_http {
                snap.proxies[2].mode = ProxyMode::Tcp;
            }
            let page = render(&snap, &PromexRequest::default());
            let mut header_for = String::new();
            for line in page.lines() {
                if let Some(help) = line.strip_prefix("# HELP ") {
                    header_for = help.split(' ').next().unwrap_or("").to_string();
                    continue;
                }
                if line.starts_with("# TYPE ") {
                    prop_assert!(line.ends_with(" gauge") || line.ends_with(" counter"));
                    continue;
                }
                prop_assert!(well_formed(line), "{line:?}");
                prop_assert!(line.starts_with(&header_for), "{line:?} after {header_for}");
            }
        }
    }
}
