//! The idle server connections of a `mode http` server, shared by every client
//! connection (`http-reuse`, `pool-max-conn`, `pool-purge-delay`, `pool-low-conn`), pure:
//! which idle connection a request may take, whether a connection that served a
//! request is kept, which ones a purge closes. Time is injected; the runtime
//! ([`session`](crate::http::session)) holds the sockets and the purge timer.
//!
//! HAProxy 2.6.12 as read in src/backend.c (`connect_server()`, `conn_backend_get()`),
//! src/server.c (`srv_add_to_idle_list()`, `srv_cleanup_idle_conns()`) and src/mux_h1.c
//! (`h1_detach()`), and measured (see `crates/ha-compat/tests/http_reuse_reference.rs`):
//! - A connection goes back to its server's pool at the end of every exchange that
//!   leaves it open (not when its client leaves): to the *idle* list after its first
//!   request, to the *safe* list after a later one (it has shown the server keeps
//!   connections open).
//! - Whether it is kept: `srv_add_to_idle_list()`'s rule (pool-max-conn, a purge delay
//!   above zero, and either nothing better is pooled yet or the connections in use plus
//!   the idle ones do not exceed the estimated need plus `pool-low-conn`); otherwise it
//!   closes at once.
//! - Which a request takes (`connect_server()`'s table): under `safe` only a client's
//!   later requests (or every request when `retry-on` covers `conn-failure`,
//!   `empty-response` and `response-timeout`), idle list first, then safe; a first
//!   request takes a safe connection under `aggressive`, a safe then an idle one under
//!   `always`. Oldest first in each list (the ebtree keeps duplicates in insertion
//!   order).
//! - Every `pool-purge-delay` from the first connection pooled, half the excess over the
//!   estimated need (plus one, `srv_cleanup_idle_conns()`'s arithmetic with one thread)
//!   is closed, idle list first, oldest first.
//! - A connection is only taken by a request with the same connection parameters (the
//!   hash `connect_server()` computes; here the `send-proxy` line's addresses, `K`);
//!   connections with other parameters stay where they are.
//!
//! One pool per server, as HAProxy with `nbthread 1` (with several threads HAProxy keeps
//! one list per thread, and which connection is kept then depends on the thread a
//! client landed on).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// `http-reuse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum ReuseMode {
    /// Server connections belong to their client connection (private).
    Never,
    #[default]
    Safe,
    Aggressive,
    Always,
}

impl ReuseMode {
    /// The keyword's argument (`haproxy-conf` has checked it is one of the four).
    pub fn from_keyword(word: &str) -> Option<ReuseMode> {
        match word {
            "never" => Some(ReuseMode::Never),
            "safe" => Some(ReuseMode::Safe),
            "aggressive" => Some(ReuseMode::Aggressive),
            "always" => Some(ReuseMode::Always),
            _ => None,
        }
    }
}

/// A server's `pool-*` settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolLimits {
    /// `pool-max-conn`: `None` for -1 (unlimited, the default); 0 keeps none.
    pub max_idle: Option<usize>,
    /// `pool-purge-delay` (5 s by default); zero keeps none.
    pub purge_delay: Duration,
    /// `pool-low-conn` (0 by default).
    pub low_idle: usize,
}

impl Default for PoolLimits {
    fn default() -> Self {
        PoolLimits {
            max_idle: None,
            purge_delay: Duration::from_secs(5),
            low_idle: 0,
        }
    }
}

/// Which lists a request may take an idle connection from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eligibility {
    /// A client's first request (the first column of `connect_server()`'s table).
    FirstRequest,
    /// A later request, or any request when the retries make it safe (second column).
    Later,
}

/// One server's idle connections (`C`, with the parameters `K` a request must share to
/// take it) and the counts HAProxy keeps to size them.
#[derive(Debug)]
pub struct ServerPool<K, C> {
    limits: PoolLimits,
    /// Connections that served one request (`idle_conns`), oldest first.
    idle: VecDeque<(K, C)>,
    /// Connections that served more (`safe_conns`), oldest first.
    safe: VecDeque<(K, C)>,
    /// Connections in use (`curr_used_conns`).
    used: usize,
    /// The most in use since the last purge (`max_used_conns`).
    max_used: usize,
    /// The estimated need (`est_need_conns`).
    est_need: usize,
    /// When the next purge runs (`idle_node.key`), while the server is in the purge tree.
    purge_at: Option<Instant>,
}

impl<K: PartialEq, C> ServerPool<K, C> {
    pub fn new(limits: PoolLimits) -> ServerPool<K, C> {
        ServerPool {
            limits,
            idle: VecDeque::new(),
            safe: VecDeque::new(),
            used: 0,
            max_used: 0,
            est_need: 0,
            purge_at: None,
        }
    }

    /// The server's `pool-*` settings.
    pub fn limits(&self) -> PoolLimits {
        self.limits
    }

    /// Idle connections held (`curr_idle_conns`).
    pub fn idle_count(&self) -> usize {
        self.idle.len() + self.safe.len()
    }

    /// Connections in use (`curr_used_conns`).
    pub fn used_count(&self) -> usize {
        self.used
    }

    /// The stats page's `idle_conn_cur`, `safe_conn_cur`, `used_conn_cur`,
    /// `need_conn_est`.
    pub fn gauges(&self) -> [usize; 4] {
        [self.idle.len(), self.safe.len(), self.used, self.est_need]
    }

    /// `srv_use_conn()`: a new connection, or one taken from the pool, is in use.
    pub fn opened(&mut self) {
        self.used += 1;
        self.max_used = self.max_used.max(self.used);
        self.est_need = self.est_need.max(self.used);
    }

    /// `srv_release_conn()` of a connection in use: it closed.
    pub fn closed(&mut self) {
        self.used = self.used.saturating_sub(1);
    }

    /// `connect_server()`'s choice for a request with parameters `key` under `mode`
    /// (not `never`): an idle connection, or `None` to connect. Candidates `alive` says
    /// are dead (the server closed them while pooled, which HAProxy's idle polling would
    /// have seen) are moved to `dead` for the caller to close.
    pub fn take(
        &mut self,
        mode: ReuseMode,
        request: Eligibility,
        key: &K,
        mut alive: impl FnMut(&C) -> bool,
        dead: &mut Vec<C>,
    ) -> Option<C> {
        if mode == ReuseMode::Never || self.limits.max_idle == Some(0) {
            return None;
        }
        let mut pop = |list: &mut VecDeque<(K, C)>| {
            while let Some(at) = list.iter().position(|(k, _)| k == key) {
                let (_, conn) = list.remove(at)?;
                if alive(&conn) {
                    return Some(conn);
                }
                dead.push(conn);
            }
            None
        };
        let conn = match request {
            // conn_backend_get(is_safe = 0): the idle list, then the safe one.
            Eligibility::Later => pop(&mut self.idle).or_else(|| pop(&mut self.safe)),
            Eligibility::FirstRequest if mode >= ReuseMode::Aggressive => pop(&mut self.safe)
                .or_else(|| {
                    if mode == ReuseMode::Always {
                        pop(&mut self.idle)
                    } else {
                        None
                    }
                }),
            Eligibility::FirstRequest => None,
        }?;
        self.opened();
        Some(conn)
    }

    /// `srv_add_to_idle_list()`: a connection in use whose exchange left it open comes
    /// back (`served_before`: it had served a request before this one). It is no longer
    /// in use either way; `Err` gives it back to be closed.
    pub fn put(&mut self, key: K, conn: C, served_before: bool, now: Instant) -> Result<(), C> {
        let idle = self.idle_count();
        let room = match self.limits.max_idle {
            Some(max) => max > idle,
            None => true,
        };
        let nothing_better = self.safe.is_empty() && (served_before || self.idle.is_empty());
        let within_need = self.used + idle <= self.used.max(self.est_need) + self.limits.low_idle;
        let keep = !self.limits.purge_delay.is_zero() && room && (nothing_better || within_need);
        self.closed();
        if !keep {
            return Err(conn);
        }
        if served_before {
            self.safe.push_back((key, conn));
        } else {
            self.idle.push_back((key, conn));
        }
        if self.purge_at.is_none() {
            self.purge_at = Some(now + self.limits.purge_delay);
        }
        Ok(())
    }

    /// When [`ServerPool::purge`] has something to do.
    pub fn purge_at(&self) -> Option<Instant> {
        self.purge_at
    }

    /// `srv_cleanup_idle_conns()` for this server when its time has come: the
    /// connections to close.
    pub fn purge(&mut self, now: Instant) -> Vec<C> {
        match self.purge_at {
            Some(at) if at <= now => {}
            _ => return Vec::new(),
        }
        let idle = self.idle_count();
        let mut closing = Vec::new();
        if idle > 0 {
            // C's signed arithmetic, as written: `exceed / 2 + (exceed & 1)` (so an
            // excess of -1 still closes one), then `exceed * idle_on_thread / idle + 1`
            // connections at most, with every idle connection on the one thread.
            let exceed = as_signed(self.used) + as_signed(idle)
                - as_signed(self.max_used.max(self.est_need));
            let to_kill = exceed / 2 + (exceed & 1);
            self.est_need = ((self.est_need + self.max_used) / 2).max(self.max_used);
            self.max_used = self.used;
            if to_kill > 0 {
                let mut left = usize::try_from(to_kill + 1).unwrap_or(0);
                for list in [&mut self.idle, &mut self.safe] {
                    while left > 0 {
                        let Some((_, conn)) = list.pop_front() else {
                            break;
                        };
                        closing.push(conn);
                        left -= 1;
                    }
                }
            }
        }
        // The server stays in the purge tree while it had idle connections (the ones
        // just purged still counted: they are freed after this pass).
        self.purge_at = (idle > 0).then(|| now + self.limits.purge_delay);
        closing
    }
}

fn as_signed(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Whether `retry-on` (its words) makes every request eligible for idle connections:
/// `conn-failure`, `empty-response` and `response-timeout` all set (`retry_safe` in
/// `connect_server()`).
pub fn retries_make_reuse_safe(retry_on: &[String]) -> bool {
    let has = |w: &str| {
        retry_on
            .iter()
            .any(|r| r == w || r == "all-retryable-errors")
    };
    has("conn-failure") && has("empty-response") && has("response-timeout")
}

#[cfg(test)]
mod tests;
