//! The traffic counters the stats page reads: per frontend, backend and server, plain
//! atomics bumped once per logged unit (an HTTP request, a TCP session), so the data
//! path pays a few relaxed increments and no lock. Built once from the configuration
//! (every proxy and server is known at start), read by `Engine`'s stats snapshot.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use haproxy_conf::model::HaproxyConfig;

use crate::http::stats::HttpResponses;
use crate::traffic_log::{HttpLogRecord, TcpLogRecord, TerminationCause, TerminationPhase};

/// Milliseconds on the process's monotonic clock, as HAProxy's `global_now_ms`: the
/// time base of every [`Rate`]. It starts far from 0 so that the first event opens a
/// period of its own, as it does in HAProxy (whose counters start at tick 0 while its
/// clock does not).
pub fn now_ms() -> u32 {
    static START: OnceLock<Instant> = OnceLock::new();
    let elapsed = START.get_or_init(Instant::now).elapsed().as_millis();
    // Truncation is the point: the tick wraps like HAProxy's 32-bit `now_ms`.
    (elapsed as u32).wrapping_add(0x8000_0000)
}

/// A rate counter's period (`MS_TO_TICKS(1000)`).
const PERIOD_MS: u32 = 1000;

/// HAProxy's 1-second `freq_ctr` (`update_freq_ctr()`, `read_freq_ctr()`): the events
/// of the current period and of the one before, read as "per second over the last
/// second" by weighing the previous period by the part of it still inside that second.
/// The current period's start and count share one atomic word so that the rotation
/// is one compare-and-swap; the time is passed in, so the arithmetic is tested with
/// injected ticks.
#[derive(Debug, Default)]
pub struct FreqCtr {
    /// Start tick of the current period (high 32 bits) and its event count (low 32).
    current: AtomicU64,
    previous: AtomicU32,
}

fn pack(tick: u32, count: u32) -> u64 {
    (u64::from(tick) << 32) | u64::from(count)
}

fn unpack(word: u64) -> (u32, u32) {
    // Both halves of a word `pack()` built: the casts keep exactly 32 bits each.
    ((word >> 32) as u32, word as u32)
}

impl FreqCtr {
    /// `inc` events at `now`; returns the current period's count after them (what
    /// HAProxy compares with the `*_max` counters).
    pub fn add_at(&self, now: u32, inc: u32) -> u32 {
        let mut word = self.current.load(Ordering::Acquire);
        loop {
            let (tick, count) = unpack(word);
            let (next, result, previous) = if now.wrapping_sub(tick) < PERIOD_MS {
                let count = count.wrapping_add(inc);
                (pack(tick, count), count, None)
            } else {
                // A rotation; more than one period missed starts afresh at `now`.
                let mut start = tick.wrapping_add(PERIOD_MS);
                let mut previous = count;
                if now.wrapping_sub(start) >= PERIOD_MS {
                    previous = 0;
                    start = now;
                }
                (pack(start, inc), inc, Some(previous))
            };
            match self.current.compare_exchange_weak(
                word,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    if let Some(previous) = previous {
                        self.previous.store(previous, Ordering::Release);
                    }
                    return result;
                }
                Err(seen) => word = seen,
            }
        }
    }

    /// Events per second at `now` (`read_freq_ctr()`: `freq_ctr_total(ctr, 1000, -1)
    /// / 1000`, with its correction at very low rates).
    pub fn read_at(&self, now: u32) -> u32 {
        let (tick, mut count) = unpack(self.current.load(Ordering::Acquire));
        let mut past = self.previous.load(Ordering::Acquire);
        // The signed reinterpretation is HAProxy's `int remain` over wrapping ticks.
        let mut remain = tick.wrapping_add(PERIOD_MS).wrapping_sub(now) as i32;
        if remain < 0 {
            // Past the current period: it becomes the previous one, if still in reach.
            remain += PERIOD_MS as i32;
            past = if remain >= 0 { count } else { 0 };
            count = 0;
        }
        if count == 0 && past <= 1 {
            return past;
        }
        let remain = u64::try_from(remain).unwrap_or(0);
        let total = u64::from(past) * remain + u64::from(count) * u64::from(PERIOD_MS);
        u32::try_from(total / u64::from(PERIOD_MS)).unwrap_or(u32::MAX)
    }
}

/// A per-second rate and the highest value its period count reached (`sps_max`,
/// `rps_max`, `cps_max`), on the [`now_ms`] clock.
#[derive(Debug, Default)]
pub struct Rate {
    counter: FreqCtr,
    max: AtomicU32,
}

impl Rate {
    /// One event now.
    pub fn tick(&self) {
        self.add(1);
    }

    /// `n` events now (0: nothing happens).
    pub fn add(&self, n: u32) {
        if n > 0 {
            let count = self.counter.add_at(now_ms(), n);
            self.max.fetch_max(count, Ordering::Relaxed);
        }
    }

    pub fn per_second(&self) -> u32 {
        self.counter.read_at(now_ms())
    }

    pub fn max(&self) -> u32 {
        self.max.load(Ordering::Relaxed)
    }
}

/// `TIME_STATS_SAMPLES`: the averages' window (the stats page's help says 1024; the
/// 2.6 source uses 512).
const TIME_STATS_SAMPLES: u64 = 512;

/// The queue, connect, response and total times of a backend or server, as
/// `stream_update_time_stats()` keeps them: sliding sums (`swrate_add_dynamic()`) read
/// as averages over the last [`TIME_STATS_SAMPLES`] samples, and maxima.
#[derive(Debug, Default)]
pub struct TimeStats {
    sums: [AtomicU32; 4],
    maxima: [AtomicU32; 4],
}

/// One session's or request's times, in milliseconds: queue, connect, response (0 in
/// `mode tcp`), total.
pub type TimeSample = [u32; 4];

impl TimeStats {
    /// Adds a sample; `counted` is the row's sample counter with this one included
    /// (`cum_req` in `mode http`, `cum_lbconn` in `mode tcp`): below the window the
    /// sums only grow.
    pub fn add(&self, counted: u64, sample: TimeSample) {
        let window = if counted > TIME_STATS_SAMPLES {
            TIME_STATS_SAMPLES
        } else {
            0
        };
        for ((sum, max), value) in self.sums.iter().zip(&self.maxima).zip(sample) {
            // `fetch_update` with a closure that always returns `Some` cannot fail.
            let _ = sum.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                let old = u64::from(old);
                // Below the window nothing decays (`n` is 0 there).
                let decay = old.checked_div(window).map_or(0, |_| old.div_ceil(window));
                // HAProxy's unsigned arithmetic wraps the same way.
                Some((old - decay + u64::from(value)) as u32)
            });
            max.fetch_max(value, Ordering::Relaxed);
        }
    }

    /// The averages (`swrate_avg()`) over `min(counted, window)` samples, and the
    /// maxima.
    pub fn read(&self, counted: u64) -> (TimeSample, TimeSample) {
        let window = if counted > 0 && counted < TIME_STATS_SAMPLES {
            counted
        } else {
            TIME_STATS_SAMPLES
        };
        let mut averages = [0; 4];
        let mut maxima = [0; 4];
        for i in 0..4 {
            let sum = u64::from(self.sums[i].load(Ordering::Relaxed));
            averages[i] = u32::try_from(sum.div_ceil(window)).unwrap_or(u32::MAX);
            maxima[i] = self.maxima[i].load(Ordering::Relaxed);
        }
        (averages, maxima)
    }
}

/// Which side broke a transfer off (`cli_abrt` / `srv_abrt`), read from how the
/// session or request ended: an abort or timeout in the data phase (`process_stream()`,
/// the HTTP body forwarders), or the client closing while the response was awaited
/// (`http_wait_for_response()`).
fn aborts(termination: crate::traffic_log::TerminationState) -> (bool, bool) {
    use TerminationCause as C;
    use TerminationPhase as P;
    match (termination.cause, termination.phase) {
        (C::ClientAbort | C::ClientTimeout, P::Data) | (C::ClientAbort, P::Headers) => {
            (true, false)
        }
        (C::ServerAbort | C::ServerTimeout, P::Data) => (false, true),
        _ => (false, false),
    }
}

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
    /// `intercepted_req` (frontends): requests a service (the Prometheus exporter)
    /// answered.
    pub intercepted_requests: AtomicU64,
    /// `dreq` / `dresp`: `http-request deny` / `http-response deny`.
    pub denied_requests: AtomicU64,
    pub denied_responses: AtomicU64,
    /// `hrsp_1xx` .. `hrsp_5xx`, `hrsp_other`.
    responses: [AtomicU64; 6],
    /// Unix seconds of the last session (`lastsess`), 0 for never.
    last_session: AtomicU64,
    /// `cli_abrt` / `srv_abrt`: transfers the client / the server broke off.
    pub client_aborts: AtomicU64,
    pub server_aborts: AtomicU64,
    /// `rate` / `rate_max` of a backend or server: sessions per second (the frontend's
    /// are its listeners' [`Rate`]s).
    pub session_rate: Rate,
    /// `req_rate` / `req_rate_max` (frontends).
    pub request_rate: Rate,
    /// `qtime`, `ctime`, `rtime`, `ttime` and their maxima.
    pub times: TimeStats,
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

impl ProxyTraffic {
    /// A stream entered this backend (`stream_set_backend()`: `cum_conn`, the rate).
    pub fn backend_entered(&self) {
        self.backend.session();
        self.backend.session_rate.tick();
    }

    /// A connection attempt to `server` (`srv_inc_sess_ctr()`, `srv_set_sess_last()`):
    /// every attempt, a reused connection and retries included.
    pub fn server_attempt(&self, server: &str) {
        if let Some(t) = self.servers.get(server) {
            t.session();
            t.session_rate.tick();
        }
    }

    /// A service answered a request of this frontend (`intercepted_req`).
    pub fn intercepted(&self) {
        add(&self.frontend.intercepted_requests, 1);
    }

    /// A request head arrived on this frontend (`proxy_inc_fe_req_ctr()`).
    pub fn request_received(&self) {
        add(&self.frontend.requests, 1);
        self.frontend.request_rate.tick();
    }
}

/// Every proxy's counters, by name.
#[derive(Debug, Default, Clone)]
pub struct TrafficCounters(Arc<HashMap<String, Arc<ProxyTraffic>>>);

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
                    Arc::new(ProxyTraffic {
                        servers,
                        ..ProxyTraffic::default()
                    }),
                )
            })
            .collect();
        TrafficCounters(Arc::new(proxies))
    }

    pub fn proxy(&self, name: &str) -> Option<&ProxyTraffic> {
        self.0.get(name).map(|p| &**p)
    }

    /// A proxy's counters to keep at hand (a backend's picker, a frontend's routing).
    pub fn shared(&self, name: &str) -> Option<Arc<ProxyTraffic>> {
        self.0.get(name).cloned()
    }

    /// An HTTP request as it is logged (as haproxy 2.6.12 counts them, compared in
    /// `http_reference.rs`): the frontend counts every request (a bad one, and a plain
    /// connection closed unused, too: `req_tot`, `hrsp_4xx`), its status and `%B`; the
    /// backend the requests that reached it (not the stats page's); the server its
    /// bytes and what it answered (`req_tot`, `hrsp_*`). What HAProxy counts when it
    /// happens (`req_tot` of a frontend, `stot` and the rates) was counted then.
    pub fn http_request(&self, frontend: &str, record: &HttpLogRecord) {
        let rows = |t: &Traffic| {
            if let Some(status) = record.status {
                t.response(status);
            }
            add(&t.bytes_in, record.bytes_from_client);
            add(&t.bytes_out, record.bytes_to_client);
        };
        let events = record.events;
        if let Some(p) = self.proxy(frontend) {
            rows(&p.frontend);
            // A request whose head arrived was counted then (`request_received`);
            // a bad or empty one is counted now.
            if !events.counted_on_arrival {
                p.request_received();
            }
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
        let (client_abort, server_abort) = aborts(record.termination);
        let errors = |t: &Traffic| {
            add(&t.client_aborts, u64::from(client_abort));
            add(&t.server_aborts, u64::from(server_abort));
            add(&t.failed_connections, u64::from(failed_connection));
            add(&t.failed_responses, u64::from(events.failed_response));
            add(&t.retries, retries);
            add(&t.denied_responses, u64::from(events.denied_response));
        };
        // `stream_update_time_stats()`: only a request that got its response head
        // (a connect and a response time) is a sample.
        let sample = match (record.connect_ms, record.response_ms) {
            (Some(connect), Some(response)) => Some([
                ms32(record.queue_ms.unwrap_or(0)),
                ms32(connect),
                ms32(response),
                ms32(record.idle_ms + record.active_ms),
            ]),
            _ => None,
        };
        if let Some(p) = self.proxy(&record.backend) {
            // Counted when it entered the backend, unless its rules stopped it before.
            if !events.entered_backend {
                p.backend_entered();
            }
            add(&p.backend.requests, 1);
            rows(&p.backend);
            errors(&p.backend);
            add(&p.backend.redispatches, redispatched);
            // A deny in the backend's own rules also counts there (`sess->fe != s->be`).
            if record.backend != frontend {
                add(&p.backend.denied_requests, u64::from(events.denied_request));
            }
            if let Some(t) = record.server.as_deref().and_then(|s| p.servers.get(s)) {
                errors(t);
                // `stot` was counted at each connection attempt (`server_attempt`); a
                // request denied in the request phase names the server its persistence
                // cookie chose without connecting to it: only its bytes count
                // (haproxy 2.6.12: `bout` grows, `stot` does not).
                add(&t.bytes_in, record.bytes_from_client);
                add(&t.bytes_out, record.bytes_to_client);
                for status in &record.server_statuses {
                    add(&t.requests, 1);
                    t.response(*status);
                }
                if let Some(sample) = sample {
                    t.times.add(Traffic::get(&t.requests), sample);
                }
            }
            if let Some(sample) = sample {
                p.backend
                    .times
                    .add(Traffic::get(&p.backend.requests), sample);
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
        let (client_abort, server_abort) = aborts(record.termination);
        let aborted = |t: &Traffic| {
            add(&t.client_aborts, u64::from(client_abort));
            add(&t.server_aborts, u64::from(server_abort));
        };
        // In `mode tcp` the response time is the connect time (`t_data = t_connect`),
        // so its part is 0; the window counts sessions (HAProxy: `cum_lbconn`, equal
        // unless a session reached its server without the algorithm).
        let sample = record.connect_ms.map(|connect| {
            [
                ms32(record.queue_ms.unwrap_or(0)),
                ms32(connect),
                0,
                ms32(record.total_ms),
            ]
        });
        // `stot` and the rates were counted when the session entered the backend and
        // at each connection attempt.
        if let Some(p) = self.proxy(&record.backend) {
            rows(&p.backend);
            aborted(&p.backend);
            if let Some(t) = record.server.as_deref().and_then(|s| p.servers.get(s)) {
                rows(t);
                aborted(t);
                if let Some(sample) = sample {
                    t.times.add(Traffic::get(&t.sessions), sample);
                }
            }
            if let Some(sample) = sample {
                p.backend
                    .times
                    .add(Traffic::get(&p.backend.sessions), sample);
            }
        }
    }
}

/// A timer as the 32-bit sample HAProxy's counters hold.
fn ms32(ms: u64) -> u32 {
    u32::try_from(ms).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traffic_log::TerminationState;

    const T0: u32 = 0x8000_0000;

    #[test]
    fn a_burst_within_one_period_reads_as_its_count() {
        let c = FreqCtr::default();
        // The first event opens a period at its own tick (the counter starts at 0,
        // far from the clock), as HAProxy's does.
        for i in 1..=5 {
            assert_eq!(c.add_at(T0 + 10 * i, 1), i);
        }
        assert_eq!(c.read_at(T0 + 60), 5);
        assert_eq!(c.read_at(T0 + 999), 5);
    }

    #[test]
    fn the_previous_period_weighs_by_what_is_left_of_the_second() {
        let c = FreqCtr::default();
        c.add_at(T0, 10); // period [T0, T0+1000)
        c.add_at(T0 + 1000, 4); // rotates: previous 10, current 4
                                // 250 ms into the new period: 10 * 750/1000 + 4.
        assert_eq!(c.read_at(T0 + 1250), 11);
        // A whole period later the current one became the previous: 4 * 250/1000 = 1.
        assert_eq!(c.read_at(T0 + 2750), 1);
        // Two periods on, nothing is left.
        assert_eq!(c.read_at(T0 + 3100), 0);
    }

    #[test]
    fn low_rates_are_not_flapping_to_zero() {
        let c = FreqCtr::default();
        c.add_at(T0, 1);
        // `freq_ctr_total()`'s correction: no current event and one before reads 1.
        assert_eq!(c.read_at(T0 + 1900), 1);
    }

    #[test]
    fn a_counter_idle_for_two_periods_restarts_at_the_event() {
        let c = FreqCtr::default();
        c.add_at(T0, 7);
        assert_eq!(c.add_at(T0 + 5000, 1), 1);
        assert_eq!(c.read_at(T0 + 5001), 1);
        assert_eq!(c.read_at(T0 + 5999), 1);
    }

    #[test]
    fn a_rate_keeps_its_highest_period_count() {
        let r = Rate::default();
        r.add(3);
        r.tick();
        assert_eq!(r.max(), 4);
        assert_eq!(r.per_second(), 4);
    }

    #[test]
    fn times_average_over_the_samples_so_far_then_slide() {
        let t = TimeStats::default();
        t.add(1, [0, 1, 10, 20]);
        t.add(2, [2, 3, 30, 41]);
        // swrate_avg(sum, n) = ceil(sum / n) over the 2 samples.
        assert_eq!(t.read(2), ([1, 2, 20, 31], [2, 3, 30, 41]));
        // No sample yet: the window is 512 (what HAProxy divides by).
        assert_eq!(TimeStats::default().read(0), ([0; 4], [0; 4]));
        // Past the window every sample first takes 1/512 (rounded up) off the sum.
        let t = TimeStats::default();
        for n in 1..=512 {
            t.add(n, [0, 0, 100, 0]);
        }
        assert_eq!(t.read(512).0[2], 100);
        t.add(513, [0, 0, 612, 0]);
        // 51200 - ceil(51200/512) + 612 = 51712; ceil(51712 / 512) = 101.
        assert_eq!(t.read(513).0[2], 101);
    }

    #[test]
    fn aborts_follow_the_side_and_phase_that_ended_it() {
        let at = |cause, phase| aborts(TerminationState { cause, phase });
        use TerminationCause as C;
        use TerminationPhase as P;
        assert_eq!(at(C::ClientAbort, P::Data), (true, false));
        assert_eq!(at(C::ClientTimeout, P::Data), (true, false));
        assert_eq!(at(C::ClientAbort, P::Headers), (true, false));
        assert_eq!(at(C::ServerAbort, P::Data), (false, true));
        assert_eq!(at(C::ServerTimeout, P::Data), (false, true));
        // A 504 (`sH`) or a refused connection (`SC`) is an error, not an abort.
        assert_eq!(at(C::ServerTimeout, P::Headers), (false, false));
        assert_eq!(at(C::ServerAbort, P::Connect), (false, false));
        assert_eq!(at(C::Normal, P::None), (false, false));
    }
}
