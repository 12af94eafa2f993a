//! The traffic counters the stats page reads: per frontend, backend and server, plain
//! atomics bumped once per logged unit (an HTTP request, a TCP session), so the data
//! path pays a few relaxed increments and no lock. Built once from the configuration
//! (every proxy and server is known at start), read by `Engine`'s stats snapshot.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use haproxy_conf::model::HaproxyConfig;

use crate::http::stats::HttpResponses;
use crate::traffic_log::{HttpLogRecord, TcpLogRecord, TerminationCause, TerminationPhase};

/// One row's counters.
#[derive(Debug, Default)]
pub struct Traffic {
    /// `stot` (backends and servers: the streams they took).
    pub sessions: AtomicU64,
    /// `req_tot`.
    pub requests: AtomicU64,
    /// `bin` / `bout`.
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    /// `ereq`: requests refused or timed out before they were whole.
    pub failed_requests: AtomicU64,
    /// `econ`: sessions whose connection to a server failed for good.
    pub failed_connections: AtomicU64,
    /// `eresp`: responses that failed (none, late, invalid).
    pub failed_responses: AtomicU64,
    /// `wretr` / `wredis`: connection retries on the same server, redispatches.
    pub retries: AtomicU64,
    pub redispatches: AtomicU64,
    /// `dreq` / `dresp`: `http-request deny` / `http-response deny`.
    pub denied_requests: AtomicU64,
    pub denied_responses: AtomicU64,
    /// `hrsp_1xx` .. `hrsp_5xx`, `hrsp_other`.
    responses: [AtomicU64; 6],
    /// Unix seconds of the last session (`lastsess`), 0 for never.
    last_session: AtomicU64,
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Traffic {
    fn response(&self, status: u16) {
        let class = match status {
            100..=199 => 0,
            200..=299 => 1,
            300..=399 => 2,
            400..=499 => 3,
            500..=599 => 4,
            _ => 5,
        };
        add(&self.responses[class], 1);
    }

    /// The `hrsp_*` counters.
    pub fn responses(&self) -> HttpResponses {
        let r = |i: usize| self.responses[i].load(Ordering::Relaxed);
        HttpResponses {
            r1xx: r(0),
            r2xx: r(1),
            r3xx: r(2),
            r4xx: r(3),
            r5xx: r(4),
            other: r(5),
        }
    }

    /// `lastsess`: seconds since the last session, -1 for never.
    pub fn seconds_since_last_session(&self) -> i32 {
        match self.last_session.load(Ordering::Relaxed) {
            0 => -1,
            at => i32::try_from(now_secs().saturating_sub(at)).unwrap_or(i32::MAX),
        }
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    fn session(&self) {
        add(&self.sessions, 1);
        self.last_session.store(now_secs(), Ordering::Relaxed);
    }
}

/// A proxy's rows.
#[derive(Debug, Default)]
pub struct ProxyTraffic {
    pub frontend: Traffic,
    pub backend: Traffic,
    pub servers: HashMap<String, Traffic>,
}

/// Every proxy's counters, by name.
#[derive(Debug, Default, Clone)]
pub struct TrafficCounters(Arc<HashMap<String, ProxyTraffic>>);

impl TrafficCounters {
    pub fn new(config: &HaproxyConfig) -> TrafficCounters {
        let proxies = config
            .proxies
            .iter()
            .map(|p| {
                let servers = p
                    .servers
                    .iter()
                    .map(|s| (s.name.clone(), Traffic::default()))
                    .collect();
                (
                    p.name.clone(),
                    ProxyTraffic {
                        servers,
                        ..ProxyTraffic::default()
                    },
                )
            })
            .collect();
        TrafficCounters(Arc::new(proxies))
    }

    pub fn proxy(&self, name: &str) -> Option<&ProxyTraffic> {
        self.0.get(name)
    }

    /// An HTTP request as it is logged (as haproxy 2.6.12 counts them, compared in
    /// `http_reference.rs`): the frontend counts every request (a bad one, and a plain
    /// connection closed unused, too: `req_tot`, `hrsp_4xx`), its status and `%B`; the
    /// backend the requests that reached it (not the stats page's); the server its
    /// connection attempts (`stot`, retries included) and bytes. The server's own
    /// `req_tot`/`hrsp_*` (what the server answered) are not counted yet.
    pub fn http_request(&self, frontend: &str, record: &HttpLogRecord) {
        let rows = |t: &Traffic| {
            add(&t.requests, 1);
            if let Some(status) = record.status {
                t.response(status);
            }
            add(&t.bytes_in, record.bytes_from_client);
            add(&t.bytes_out, record.bytes_to_client);
        };
        let events = record.events;
        if let Some(p) = self.proxy(frontend) {
            rows(&p.frontend);
            add(
                &p.frontend.failed_requests,
                u64::from(events.failed_request),
            );
            add(
                &p.frontend.denied_requests,
                u64::from(events.denied_request),
            );
            add(
                &p.frontend.denied_responses,
                u64::from(events.denied_response),
            );
        }
        // A bad request never reaches a backend. (A frontend's own answers land on
        // its backend counters, which a `frontend` section has no row for.)
        if record.request_line.is_none() {
            return;
        }
        if record.server.as_deref() == Some("<STATS>") {
            if let Some(p) = self.proxy(&record.backend) {
                add(&p.backend.bytes_out, record.bytes_to_client);
            }
            return;
        }
        // The connection failed for good (`SC`/`sC`): `back_handle_st_cer()`.
        let failed_connection = record.termination.phase == TerminationPhase::Connect
            && matches!(
                record.termination.cause,
                TerminationCause::ServerAbort | TerminationCause::ServerTimeout
            );
        let redispatched = u64::from(record.counters.redispatched);
        // Each retry counts on the same server; the one that moved the session
        // elsewhere is the redispatch (`stream_choose_redispatch()`,
        // `srv_redispatch_connect()`).
        let retries = u64::from(record.counters.retries).saturating_sub(redispatched);
        let errors = |t: &Traffic| {
            add(&t.failed_connections, u64::from(failed_connection));
            add(&t.failed_responses, u64::from(events.failed_response));
            add(&t.retries, retries);
            add(&t.denied_responses, u64::from(events.denied_response));
        };
        if let Some(p) = self.proxy(&record.backend) {
            p.backend.session();
            rows(&p.backend);
            errors(&p.backend);
            add(&p.backend.redispatches, redispatched);
            // A deny in the backend's own rules also counts there (`sess->fe != s->be`).
            if record.backend != frontend {
                add(&p.backend.denied_requests, u64::from(events.denied_request));
            }
            if let Some(t) = record.server.as_deref().and_then(|s| p.servers.get(s)) {
                errors(t);
                add(&t.bytes_in, record.bytes_from_client);
                // A request denied in the request phase names the server its
                // persistence cookie chose without connecting to it: only its bytes
                // count (haproxy 2.6.12: `bout` grows, `stot` does not).
                if record.termination.phase != crate::traffic_log::TerminationPhase::Request {
                    add(&t.sessions, 1 + u64::from(record.counters.retries));
                    t.last_session
                        .store(now_secs(), std::sync::atomic::Ordering::Relaxed);
                }
                add(&t.bytes_out, record.bytes_to_client);
                for status in &record.server_statuses {
                    add(&t.requests, 1);
                    t.response(*status);
                }
            }
        }
    }

    /// A TCP session as it is logged: bytes both ways on the frontend, the backend and
    /// the server.
    pub fn tcp_session(&self, frontend: &str, record: &TcpLogRecord) {
        let rows = |t: &Traffic| {
            add(&t.bytes_in, record.bytes_from_client);
            add(&t.bytes_out, record.bytes_to_client);
        };
        if let Some(p) = self.proxy(frontend) {
            rows(&p.frontend);
        }
        if let Some(p) = self.proxy(&record.backend) {
            p.backend.session();
            rows(&p.backend);
            if let Some(t) = record.server.as_deref().and_then(|s| p.servers.get(s)) {
                t.session();
                rows(t);
            }
        }
    }
}
